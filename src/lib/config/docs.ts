// One line of help per configuration key, and which roles use it. `config init` writes these
// as comments; scripts/config-reference.ts renders README's config reference from them; a unit
// test checks that every key of the schema has an entry here.
import type {Role} from './schema.js'

export interface KeyDoc {
  readonly help: string
  /** Roles that read the key. Absent = every role. */
  readonly roles?: readonly Role[]
  /** The original's name for it, where one existed. */
  readonly original?: string
}

const B: Role[] = ['borealis']
const S: Role[] = ['site-linux']
const C: Role[] = ['campus']

export const CONFIG_DOCS: Readonly<Record<string, KeyDoc>> = {
  radar: {help: 'Radar id of this host (site hosts; campus daemons take --radar instead).', original: 'RADAR_ID in ~/.profile'},
  validRadars: {help: 'Radar ids that commands accept.', original: 'VALID_IDS'},
  nasSites: {help: 'Sites whose data goes to a NAS (others go to the site-linux computer).', original: 'NAS_SITES'},
  'cpids.distributed': {help: 'Control program ids whose data is distributed; others go to special_experiments.', roles: C, original: 'DISTRIBUTED_CPIDS'},
  hashAlgorithm: {help: 'Hash used to verify every copy: md5 (as the original) or sha256.'},
  'borealis.dataDirectory': {help: 'Where Borealis writes its data files (watched by the borealis daemon).', roles: B, original: 'data_directory in the Borealis config; /data/borealis_data in borealis.daemon'},
  'borealis.configFile': {help: 'Optional Borealis config file whose data_directory key overrides borealis.dataDirectory.', roles: B, original: '${BOREALISPATH}/config/<rad>/<rad>_config.ini'},
  'borealis.flagsDirectory': {help: 'Where the borealis host creates the flag it sends to site-linux.', roles: B},
  'borealis.quarantineDirectory': {help: 'Local quarantine for files whose copy failed verification twice (with a .reason file each); outside the data directory.', roles: B},
  'borealis.settleSeconds': {help: 'rsync-to-nas with a trigger file: files modified more recently than this are still being written and wait for the next run.', roles: B},
  'borealis.untriggeredSettleSeconds': {help: 'rsync-to-nas without a trigger file: the same, as the original (files changed in the last 5 minutes are skipped).', roles: B, original: 'find -cmin +5'},
  'site.nasDataRoot': {help: 'Data root on the site NAS (NAS sites).', roles: [...B, ...S], original: '/borealis_nfs/borealis_data'},
  'site.siteLinuxDataRoot': {help: 'Data root on the site-linux computer (non-NAS sites).', roles: [...B, ...S], original: '/data/borealis_data'},
  'site.camDirectory': {help: 'Where camera photos arrive on the site.', roles: S, original: '/borealis_nfs/cam'},
  'site.cameras': {help: 'Camera numbers whose photos are sent to campus; [] at a site without cameras (site.camDirectory is then not read).', roles: S, original: '210 211 212'},
  'site.plotDirectory': {help: 'Where antennas_iq plots are written before rsync-to-campus sends them.', roles: S, original: '~/logs/daily_plots'},
  'site.watchDirectory': {help: 'Directory the site-linux daemon watches for the borealis flag.', roles: S, original: '/home/transfer/data_flow/.inotify_watchdir'},
  'site.flagsDirectory': {help: 'Where the site-linux host creates the flag it sends to campus.', roles: S},
  'site.quarantineDirectory': {help: 'Quarantine on the site-linux host for files rsync-to-campus or transfer-cam-photos cannot send (misnamed), each with a .reason file.', roles: S},
  'campus.dataDirectory': {help: 'DMAP files of a radar waiting for distribution.', roles: C, original: '/sddata/<rad>_data'},
  'campus.holdingDirectory': {help: 'HDF5 rawacf files of a radar waiting for conversion.', roles: C, original: '/sddata/<rad>_holding_dir'},
  'campus.conversionFailureDirectory': {help: 'Quarantine for files that failed conversion or checks.', roles: C, original: '/sddata/conversion_failure'},
  'campus.specialExperimentsDirectory': {help: 'DMAP files of CPIDs that are not distributed.', roles: C, original: '/sddata/special_experiments'},
  'campus.archiveRoot': {help: 'Campus NAS archive root.', roles: C, original: '/data/borealis_site_data'},
  'campus.plotsDirectory': {help: 'Where antennas_iq plots of a radar arrive on campus.', roles: C, original: '/sddata/antennas_iq_plots/<rad>_iq_plots'},
  'campus.plotsArchiveDirectory': {help: 'Archive for plots older than 24 h (absolute).', roles: C},
  'campus.camRoot': {help: 'Root of the camera photo tree on campus.', roles: C, original: '/home/logman/cam'},
  'campus.staging': {help: 'Staging copies made by distribute-borealis-data: name, path, group, mode.', roles: C, original: 'VT and BAS outgoing, /data/holding/globus'},
  'campus.watchDirectory': {help: 'Directory the campus daemons watch for site-linux flags.', roles: C, original: '/home/dataman/data_flow/.inotify_watchdir'},
  'hosts.siteLinux': {help: 'ssh target of the site-linux computer: target user@host, port, identityFile, knownHostsFile, bandwidthLimitKBps.', roles: B, original: 'SITE_LINUX'},
  'hosts.campus': {help: 'ssh target of the campus server (same fields).', roles: S, original: 'SDCOPY'},
  'hosts.telemetry': {help: 'ssh target that receives summary logs (same fields); null = no telemetry push.', original: 'TELEMETRY=logman@${SDC_SERV_IP}'},
  'telemetry.directory': {help: 'Telemetry root on the telemetry host; summaries go to <dir>/<radar>/<stage>/.', original: 'TELEMETRY_DIR'},
  'alerts.slackWebhook': {help: 'Slack incoming-webhook URL for alerts (secret: masked and never logged).', original: 'SLACK_DATAFLOW_WEBHOOK'},
  'alerts.minIntervalMs': {help: 'Minimum time between two Slack messages (at least 1000).'},
  'alerts.maxAttempts': {help: 'Attempts per Slack message (HTTP 429 Retry-After is honoured).'},
  'alerts.timeoutSeconds': {help: 'Timeout of one Slack request.'},
  'logging.directory': {help: 'Root of the per-stage daily logs and summary logs.', original: '~/logs'},
  'logging.level': {help: 'Lowest level of JSON event lines: trace, debug, info, warn, error, fatal.'},
  'state.directory': {help: 'Locks and other run state.'},
  'timeouts.sshConnectSeconds': {help: 'ssh ConnectTimeout.'},
  'timeouts.ioSeconds': {help: 'rsync --timeout: seconds without I/O before a transfer is abandoned.', original: '--timeout=180'},
  'timeouts.commandSeconds': {help: 'Upper bound for any one external command.'},
  'timeouts.telemetrySeconds': {help: 'Upper bound for one telemetry push.'},
  'retry.attempts': {help: 'Attempts for a transient failure (timeouts, ssh exit 255, rsync partial transfer).'},
  'retry.initialDelayMs': {help: 'First retry delay; doubles each attempt.'},
  'retry.maxDelayMs': {help: 'Largest retry delay.'},
  'daemon.rescanIntervalMinutes': {help: 'Daemons rescan their inputs this often even without a trigger.'},
}
