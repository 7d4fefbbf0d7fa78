// The one configuration schema. Every command and role reads its settings from here; the
// TypeScript types are inferred from the schema so the two cannot drift apart.
// Defaults are the original data_flow's paths and lists (config.sh, ~/.profile, hard-coded paths).
// Paths may start with `~/` (the running user's home) and contain `{radar}`; see resolvePath().
import {z} from 'zod'

const RADAR_ID = /^[a-z]{3}$/
const radarId = z.string().regex(RADAR_ID, 'a radar id is three lower-case letters, e.g. sas')
const path = z.string().min(1, 'a path must not be empty')
const seconds = z.number().positive()
const octalMode = z.string().regex(/^[0-7]{3,4}$/, 'a file mode is 3 or 4 octal digits, e.g. 664')

export const HostSchema = z.strictObject({
  target: z
    .string()
    .regex(/^([A-Za-z0-9._-]+@)?[A-Za-z0-9.:[\]-]+$/, 'expected user@host (no spaces, no shell characters)'),
  port: z.number().int().min(1).max(65535).default(22),
  identityFile: path.optional(),
  knownHostsFile: path.optional(),
  bandwidthLimitKBps: z.number().int().nonnegative().default(0),
})

export const StagingTargetSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]+$/, 'a staging name is lower-case letters, digits, _ or -'),
  path,
  group: z.string().optional(),
  mode: octalMode.default('664'),
})

const DEFAULT_RADARS = ['sas', 'pgr', 'inv', 'cly', 'rkn']

export const ConfigSchema = z
  .strictObject({
    radar: radarId.optional(),
    validRadars: z.array(radarId).min(1).default(DEFAULT_RADARS),
    nasSites: z.array(radarId).default(DEFAULT_RADARS),
    cpids: z
      .strictObject({
        distributed: z.array(z.number().int()).default([151, 3503, 157, 191]),
      })
      .prefault({}),
    hashAlgorithm: z.enum(['md5', 'sha256']).default('md5'),
    borealis: z
      .strictObject({
        dataDirectory: path.default('/data/borealis_data'),
        configFile: path.optional(),
        flagsDirectory: path.default('~/data_flow/.inotify_flags'),
        quarantineDirectory: path.default('/data/borealis_quarantine'),
        settleSeconds: z.number().nonnegative().default(60),
        untriggeredSettleSeconds: z.number().nonnegative().default(300),
      })
      .prefault({}),
    site: z
      .strictObject({
        nasDataRoot: path.default('/borealis_nfs/borealis_data'),
        siteLinuxDataRoot: path.default('/data/borealis_data'),
        camDirectory: path.default('/borealis_nfs/cam'),
        cameras: z.array(z.number().int().nonnegative()).default([210, 211, 212]),
        plotDirectory: path.default('~/logs/daily_plots'),
        watchDirectory: path.default('/home/transfer/data_flow/.inotify_watchdir'),
        flagsDirectory: path.default('~/data_flow/.inotify_flags'),
        quarantineDirectory: path.default('~/data_flow/quarantine'),
      })
      .prefault({}),
    campus: z
      .strictObject({
        dataDirectory: path.default('/sddata/{radar}_data'),
        holdingDirectory: path.default('/sddata/{radar}_holding_dir'),
        conversionFailureDirectory: path.default('/sddata/conversion_failure'),
        specialExperimentsDirectory: path.default('/sddata/special_experiments'),
        archiveRoot: path.default('/data/borealis_site_data'),
        plotsDirectory: path.default('/sddata/antennas_iq_plots/{radar}_iq_plots'),
        plotsArchiveDirectory: path.default('/sddata/antennas_iq_plots/{radar}_iq_plots/archive'),
        camRoot: path.default('/home/logman/cam'),
        staging: z.array(StagingTargetSchema).default([
          {name: 'vt', path: '/home/vtsd/outgoing/{radar}', group: 'sddata', mode: '664'},
          {name: 'bas', path: '/home/bas/outgoing/{radar}', group: 'sddata', mode: '664'},
          {name: 'mirror', path: '/data/holding/globus', group: 'sddata', mode: '664'},
        ]),
        watchDirectory: path.default('/home/dataman/data_flow/.inotify_watchdir'),
      })
      .prefault({}),
    hosts: z
      .strictObject({
        siteLinux: HostSchema.nullable().default(null),
        campus: HostSchema.nullable().default(null),
        telemetry: HostSchema.nullable().default(null),
      })
      .prefault({}),
    telemetry: z
      .strictObject({
        directory: path.default('/home/logman/data_flow_logs'),
      })
      .prefault({}),
    alerts: z
      .strictObject({
        slackWebhook: z.url({protocol: /^https?$/}).optional(),
        minIntervalMs: z.number().int().min(1000).default(1000),
        maxAttempts: z.number().int().min(1).max(10).default(4),
        timeoutSeconds: seconds.default(10),
      })
      .prefault({}),
    logging: z
      .strictObject({
        directory: path.default('~/logs'),
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      })
      .prefault({}),
    state: z
      .strictObject({
        directory: path.default('~/.local/state/dataflow'),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        sshConnectSeconds: seconds.default(15),
        ioSeconds: seconds.default(180),
        commandSeconds: seconds.default(3600),
        telemetrySeconds: seconds.default(60),
      })
      .prefault({}),
    retry: z
      .strictObject({
        attempts: z.number().int().min(1).max(20).default(4),
        initialDelayMs: z.number().int().nonnegative().default(2000),
        maxDelayMs: z.number().int().nonnegative().default(60000),
      })
      .prefault({}),
    daemon: z
      .strictObject({
        rescanIntervalMinutes: z.number().positive().default(10),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const valid = new Set(config.validRadars)
    const checkIds = (ids: readonly string[], at: (string | number)[]) => {
      ids.forEach((id, index) => {
        if (!valid.has(id)) {
          ctx.addIssue({code: 'custom', path: [...at, index], message: `radar "${id}" is not in validRadars`})
        }
      })
    }
    if (config.radar !== undefined && !valid.has(config.radar)) {
      ctx.addIssue({code: 'custom', path: ['radar'], message: `radar "${config.radar}" is not in validRadars`})
    }
    checkIds(config.nasSites, ['nasSites'])
    const names = new Set<string>()
    config.campus.staging.forEach((target, index) => {
      if (names.has(target.name)) {
        ctx.addIssue({code: 'custom', path: ['campus', 'staging', index, 'name'], message: `duplicate staging name "${target.name}"`})
      }
      names.add(target.name)
    })
    if (config.retry.maxDelayMs < config.retry.initialDelayMs) {
      ctx.addIssue({code: 'custom', path: ['retry', 'maxDelayMs'], message: 'must be at least retry.initialDelayMs'})
    }
  })

export type Config = z.infer<typeof ConfigSchema>
export type HostConfig = z.infer<typeof HostSchema>
export type Role = 'borealis' | 'site-linux' | 'campus'
export const ROLES: readonly Role[] = ['borealis', 'site-linux', 'campus']

/**
 * Keys of the original's configuration (and of earlier dataflow versions) that do nothing, and
 * why. A config file or DATAFLOW_* variable that sets one is rejected with this reason, not with
 * a bare "unknown key", so an operator migrating from config.sh knows it is not an oversight.
 */
export const REMOVED_KEYS: Readonly<Record<string, string>> = {
  lowMemorySites:
    'removed: the original defined LOW_MEMORY_SITES but no script read it; dataflow converts and plots with memory bounded on every host',
  siteFileTypes:
    'removed: the original defined RAWACF_SITES, ANTENNAS_IQ_SITES and BFIQ_SITES but no script read them; every site sends the files its radar writes (rawacf and antennas_iq; routing is by file name)',
  'cpids.widebeam': 'removed: the original\'s WIDEBEAM_CPIDS was read only by commented-out code; cpids.distributed decides what is distributed',
  'campus.flagsDirectory': 'removed: campus sends no flag (the original\'s campus flag had no receiver)',
}

/** Keys whose values are secrets: masked by `config show`, never logged. */
export const SECRET_PATHS: readonly string[] = ['alerts.slackWebhook']

/** The built-in defaults (what applies when no config file exists). */
export function defaultConfig(): Config {
  return ConfigSchema.parse({})
}
