// The resolved role layout: the configuration read ONCE per (role, radar) into one typed object —
// every directory, host, route, staging target and schedule a role's stages and daemon use, and
// the set of directories they write. Stages, the daemon, install-service and doctor take this
// object (or the part of it that is theirs), never the configuration.
//
// The differences between the roles are data, in ROLE_TABLE; nothing below branches on a role
// except the three builders that say where each role's directories come from.
//
// The write set is built by the same expressions that give the stages their paths (`writable(…)`
// returns its argument), so the systemd unit's ReadWritePaths= cannot disagree with what the
// stages write: a stage path that is written must be declared writable where it is resolved.
import {resolvePath} from '../lib/config/load.js'
import type {Config, HostConfig, Role} from '../lib/config/schema.js'
import {ConfigError} from '../lib/errors.js'
import type {FlagRoute, FlagSettings, IncomingFlag} from '../lib/daemon/flags.js'
import type {WatchSpec} from '../lib/daemon/watch.js'
import type {ArchiveIqPlotsLayout} from '../lib/stages/archive-iq-plots.js'
import type {ConvertOnCampusLayout} from '../lib/stages/convert-on-campus.js'
import type {DistributeLayout} from '../lib/stages/distribute-borealis-data.js'
import type {PlotAntennasIqLayout} from '../lib/stages/plot-antennas-iq.js'
import type {RsyncToCampusLayout} from '../lib/stages/rsync-to-campus.js'
import {borealisDataDirectory, type RsyncToNasLayout} from '../lib/stages/rsync-to-nas.js'
import type {StageRuntime} from '../lib/stages/runner.js'
import type {StageId} from '../lib/stages/specs.js'
import type {CamPhotosLayout} from '../lib/stages/transfer-cam-photos.js'
import {RADAR_PLACEHOLDER} from '../lib/systemd/units.js'

/** What differs between the host roles, as data. */
export interface RoleDefinition {
  /** Stages in order; each runs even when an earlier one failed (failures are alerted). */
  stages: readonly StageId[]
  /**
   * What starts a run: a new Borealis data file (its name is passed to the stages: that block is
   * still being written) or the flag the previous host sends.
   */
  trigger: 'new-data-file' | 'incoming-flag'
  /** The flag this role reacts to, moved into its watch directory by the previous host. */
  incomingFlag: ((radar: string) => string) | null
  /** The flag sent to the next host when the stages are done (null: none). */
  outgoingFlag: ((radar: string) => string) | null
  /** One service per radar (a systemd template unit, campus) instead of one per host. */
  perRadar: boolean
  /** The daemon's log file under logging.directory, as the original named it. */
  daemonLog: (radar: string) => string
}

export const ROLE_TABLE: Readonly<Record<Role, RoleDefinition>> = {
  borealis: {
    stages: ['rsync-to-nas'],
    trigger: 'new-data-file',
    incomingFlag: null,
    outgoingFlag: () => '.borealis_flag',
    perRadar: false,
    daemonLog: () => 'inotify_daemons/borealis.log',
  },
  'site-linux': {
    stages: ['plot-antennas-iq', 'rsync-to-campus', 'transfer-cam-photos'],
    trigger: 'incoming-flag',
    incomingFlag: () => '.borealis_flag',
    outgoingFlag: (radar) => `.site-linux_flag_${radar}`,
    perRadar: false,
    daemonLog: () => 'inotify_daemons/site-linux.log',
  },
  campus: {
    stages: ['convert-on-campus', 'distribute-borealis-data', 'archive-iq-plots'],
    trigger: 'incoming-flag',
    incomingFlag: (radar) => `.site-linux_flag_${radar}`,
    // The original's `.campus_dataflow_flag_<rad>` had no receiver: not sent.
    outgoingFlag: null,
    perRadar: true,
    daemonLog: (radar) => `inotify_daemons/campus_${radar}.log`,
  },
}

/** Each stage's own layout. */
export interface StageLayouts {
  'rsync-to-nas': RsyncToNasLayout
  'plot-antennas-iq': PlotAntennasIqLayout
  'rsync-to-campus': RsyncToCampusLayout
  'transfer-cam-photos': CamPhotosLayout
  'convert-on-campus': ConvertOnCampusLayout
  'distribute-borealis-data': DistributeLayout
  'archive-iq-plots': ArchiveIqPlotsLayout
}

export interface RoleLayout {
  role: Role
  radar: string
  definition: RoleDefinition
  runtime: StageRuntime
  /** A stage's layout; throws the ConfigError that keeps it from running (e.g. hosts.campus unset). */
  stage<S extends StageId>(id: S): StageLayouts[S]
  /** What the daemon watches. */
  watch: WatchSpec
  incoming: IncomingFlag | null
  outgoing: FlagRoute | null
  flagSettings: FlagSettings
  daemonLog: string
  rescanIntervalMs: number
  /** borealis: how long after a new file the run is repeated, when the block before it has settled. */
  settleFollowUpMs: number | null
  /** Directories where temporary files of a killed run are cleaned at start, and after how long. */
  staleTemps: ReadonlyArray<{dir: string; olderThanMs: number}>
  /** Every directory the role writes (ReadWritePaths=), in declaration order, no duplicates. */
  writes: readonly string[]
}

export interface ResolveOptions {
  /** Home directory of the service user: `~/` in config paths means this. Default: $HOME. */
  home?: string
}

/** Names that count as a new Borealis data file (the original's `.*\.(h5|rawacf)$`). */
export const BOREALIS_FILE = /\.(h5|rawacf)$/
/** Temporary files older than this in the Borealis data directory are leftovers of a killed run. */
const STALE_DATA_TEMP_MS = 3_600_000
/** A flag's temporary file lives milliseconds; one this old is a leftover. */
const STALE_FLAG_TEMP_MS = 60_000

type Builders = {[S in StageId]?: () => StageLayouts[S]}

export function resolveRoleLayout(config: Config, role: Role, radar: string, options: ResolveOptions = {}): RoleLayout {
  const home = options.home ?? process.env.HOME
  const vars = {radar, home}
  const path = (template: string) => resolvePath(template, vars)
  const writes = new Set<string>()
  const writable = (dir: string) => (writes.add(dir), dir)
  const definition = ROLE_TABLE[role]

  const runtime: StageRuntime = {
    radar,
    hashAlgorithm: config.hashAlgorithm,
    retry: {attempts: config.retry.attempts, initialDelayMs: config.retry.initialDelayMs, maxDelayMs: config.retry.maxDelayMs},
    logRoot: writable(path(config.logging.directory)),
    logLevel: config.logging.level,
    stateDirectory: writable(path(config.state.directory)),
    alerts: {
      webhookUrl: config.alerts.slackWebhook,
      minIntervalMs: config.alerts.minIntervalMs,
      maxAttempts: config.alerts.maxAttempts,
      timeoutSeconds: config.alerts.timeoutSeconds,
    },
    telemetry: {
      host: config.hosts.telemetry,
      directory: config.telemetry.directory,
      timeouts: {sshConnectSeconds: config.timeouts.sshConnectSeconds, telemetrySeconds: config.timeouts.telemetrySeconds},
    },
    transport: {
      connectTimeoutSeconds: config.timeouts.sshConnectSeconds,
      ioTimeoutSeconds: config.timeouts.ioSeconds,
      commandTimeoutSeconds: config.timeouts.commandSeconds,
      controlDir: `${path(config.state.directory)}/ssh`,
    },
  }
  const nasSite = config.nasSites.includes(radar)
  const requireHost = (key: 'siteLinux' | 'campus', why: string): HostConfig => {
    const host = config.hosts[key]
    if (!host) throw new ConfigError(`hosts.${key} is not set: ${why}`)
    return host
  }

  let builders: Builders
  let watch: WatchSpec
  let incomingDir: string | null = null
  let outgoing: Omit<FlagRoute, 'name'> | null = null
  switch (role) {
    case 'borealis': {
      // The directory rsync-to-nas reads and deletes from (the original's daemon watched a
      // hard-coded path instead of Borealis' configured one).
      const source = writable(config.borealis.configFile ? borealisDataDirectory(path(config.borealis.configFile)) : path(config.borealis.dataDirectory))
      const quarantine = writable(path(config.borealis.quarantineDirectory))
      const root = nasSite ? writable(path(config.site.nasDataRoot)) : path(config.site.siteLinuxDataRoot)
      builders = {
        'rsync-to-nas': () => ({
          source,
          quarantine,
          nas: nasSite,
          root,
          destination: nasSite
            ? {kind: 'local'}
            : {kind: 'ssh', host: requireHost('siteLinux', `${radar} is not a NAS site (nasSites): its files go to site-linux over ssh`), configKey: 'hosts.siteLinux'},
          settleSeconds: config.borealis.settleSeconds,
          untriggeredSettleSeconds: config.borealis.untriggeredSettleSeconds,
        }),
      }
      watch = {dir: source, recursive: true, events: ['create'], accept: (name) => BOREALIS_FILE.test(name), skipDirectory: (dir) => dir === quarantine}
      outgoing = {
        localDirectory: writable(path(config.borealis.flagsDirectory)),
        destinationDirectory: remoteOrLocal(config.site.watchDirectory, config.hosts.siteLinux, vars),
        host: config.hosts.siteLinux,
        hostKey: 'hosts.siteLinux',
      }
      break
    }
    case 'site-linux': {
      // rsync-to-campus deletes what it sent from the data root, the plots and the photos.
      const root = writable(path(nasSite ? config.site.nasDataRoot : config.site.siteLinuxDataRoot))
      const plotDirectory = writable(path(config.site.plotDirectory))
      const quarantine = writable(path(config.site.quarantineDirectory))
      const camDirectory = writable(path(config.site.camDirectory))
      const campus = () => ({kind: 'ssh' as const, host: requireHost('campus', 'the site-linux stages send to campus over ssh'), configKey: 'hosts.campus'})
      builders = {
        'plot-antennas-iq': () => ({root, plotDirectory}),
        'rsync-to-campus': () => ({
          root,
          plotSource: plotDirectory,
          quarantine,
          campus: campus(),
          remote: {data: path(config.campus.dataDirectory), holding: path(config.campus.holdingDirectory), plots: path(config.campus.plotsDirectory)},
        }),
        'transfer-cam-photos': () => ({
          source: camDirectory,
          cameras: config.site.cameras,
          radarRoot: `${path(config.campus.camRoot)}/${radar}cam`,
          quarantine,
          campus: campus(),
        }),
      }
      incomingDir = writable(path(config.site.watchDirectory))
      outgoing = {
        localDirectory: writable(path(config.site.flagsDirectory)),
        destinationDirectory: remoteOrLocal(config.campus.watchDirectory, config.hosts.campus, vars),
        host: config.hosts.campus,
        hostKey: 'hosts.campus',
      }
      watch = incomingWatch(incomingDir, definition.incomingFlag!(radar))
      break
    }
    case 'campus': {
      const data = writable(path(config.campus.dataDirectory))
      const holding = writable(path(config.campus.holdingDirectory))
      const failure = writable(path(config.campus.conversionFailureDirectory))
      const special = writable(path(config.campus.specialExperimentsDirectory))
      const archiveRoot = writable(path(config.campus.archiveRoot))
      const plots = writable(path(config.campus.plotsDirectory))
      const archive = writable(path(config.campus.plotsArchiveDirectory))
      const staging = config.campus.staging.map((t) => ({name: t.name, path: writable(path(t.path)), group: t.group, mode: Number.parseInt(t.mode, 8)}))
      builders = {
        'convert-on-campus': () => ({holding, data, failure}),
        'distribute-borealis-data': () => ({data, archiveRoot, failure, special, staging, distributedCpids: new Set(config.cpids.distributed)}),
        'archive-iq-plots': () => ({plots, archive, quarantine: failure}),
      }
      incomingDir = writable(path(config.campus.watchDirectory))
      watch = incomingWatch(incomingDir, definition.incomingFlag!(radar))
      break
    }
  }

  // Built now, so that the write set is complete; a stage that cannot be built keeps its error.
  const built = new Map<StageId, {layout?: unknown; error?: ConfigError}>()
  for (const id of definition.stages) {
    try {
      built.set(id, {layout: builders[id]!()})
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      built.set(id, {error})
    }
  }
  const incomingName = definition.incomingFlag?.(radar) ?? null
  const outgoingName = definition.outgoingFlag?.(radar) ?? null
  return {
    role,
    radar,
    definition,
    runtime,
    stage<S extends StageId>(id: S): StageLayouts[S] {
      const entry = built.get(id)
      if (!entry) throw new ConfigError(`${id} is not a stage of the ${role} role (${definition.stages.join(', ')})`)
      if (entry.error) throw entry.error
      return entry.layout as StageLayouts[S]
    },
    watch,
    incoming: incomingDir && incomingName ? {directory: incomingDir, name: incomingName} : null,
    outgoing: outgoing && outgoingName ? {...outgoing, name: outgoingName} : null,
    flagSettings: {
      timeouts: {sshConnectSeconds: config.timeouts.sshConnectSeconds, ioSeconds: config.timeouts.ioSeconds},
      retry: runtime.retry,
    },
    daemonLog: `${runtime.logRoot}/${definition.daemonLog(radar)}`,
    rescanIntervalMs: Math.max(1000, config.daemon.rescanIntervalMinutes * 60_000),
    settleFollowUpMs: definition.trigger === 'new-data-file' ? (config.borealis.settleSeconds + 1) * 1000 : null,
    staleTemps: [
      ...(outgoing ? [{dir: outgoing.localDirectory, olderThanMs: STALE_FLAG_TEMP_MS}] : []),
      {dir: watch.dir, olderThanMs: definition.trigger === 'new-data-file' ? STALE_DATA_TEMP_MS : STALE_FLAG_TEMP_MS},
    ],
    writes: [...writes],
  }
}

/** The layout of the role a stage belongs to (for the one-off stage subcommands). */
export function layoutForStage(config: Config, id: StageId, role: Role, radar: string, options: ResolveOptions = {}): RoleLayout {
  const layout = resolveRoleLayout(config, role, radar, options)
  layout.stage(id) // fail now, with the reason, when the stage cannot run
  return layout
}

/**
 * The directories a role's service writes. `radar` undefined: campus (one template unit for every
 * radar) keeps `{radar}`, which the unit builder turns into the instance specifier %i, so each
 * instance can write only its own radar's directories; the other roles cover every radar of
 * validRadars.
 */
export function roleWritePaths(config: Config, role: Role, radar: string | undefined, options: ResolveOptions = {}): string[] {
  if (radar !== undefined) return [...resolveRoleLayout(config, role, radar, options).writes]
  if (ROLE_TABLE[role].perRadar) return [...resolveRoleLayout(config, role, RADAR_PLACEHOLDER, options).writes]
  const out = new Set<string>()
  for (const id of config.validRadars) for (const dir of resolveRoleLayout(config, role, id, options).writes) out.add(dir)
  return [...out]
}

/** `~/x` means the receiving user's home: on a remote host that is rsync's relative path `x`. */
function remoteOrLocal(template: string, host: HostConfig | null, vars: {radar: string; home?: string}): string {
  if (host && template.startsWith('~/')) return template.slice(2).replaceAll('{radar}', vars.radar)
  return resolvePath(template, vars)
}

/** moved-to: rsync's rename (the original's event); close-write: a flag written in place, e.g. by hand. */
function incomingWatch(dir: string, name: string): WatchSpec {
  // The original's patterns: `\.borealis_flag$`, `\.site-linux_flag_<rad>$`.
  return {dir, recursive: false, events: ['moved-to', 'close-write'], accept: (candidate) => candidate.endsWith(name)}
}
