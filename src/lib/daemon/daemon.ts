// `dataflow daemon --role R`: one long-running process per host role (campus: one per radar).
//
//   watch (inotify, or polling on NFS/CIFS) ─┐
//   reconcile rescan every N minutes ────────┼→ ChainScheduler (one run at a time; triggers
//   inotify queue overflow ──────────────────┘   during a run coalesce into ONE more run)
//        → the role's stages in order (ROLE_SPECS), each through runStage() with the very
//          functions of the one-off subcommands (STAGE_FUNCTIONS)
//        → consume the incoming flag → send the flag to the next host (flags.ts)
//
// What the original did wrong and this does not (docs/design.md#daemons-and-flags):
// - no trigger is dropped: no 120 s filter, no `flock --nonblock` skip; a stage whose lock is
//   held by an operator's manual run is retried a minute later, and the rescan is a backstop;
// - a lost flag, an event missed during a restart, or an overflowing inotify queue only delays
//   data until the next rescan (or the start-up reconcile), which runs the chain whenever a stage
//   has files waiting (asked of the stages themselves, in dry-run mode, so the rules cannot drift);
// - every ssh/rsync call has a timeout (the transports, sendFlag); a failing stage is logged and
//   alerted by runStage and does not stop the later stages, the flag or the daemon;
// - stop (SIGTERM/SIGINT, the process's one AbortController): no new work; the stage in flight may
//   go on for `stopGraceMs`, then it is aborted (its children are killed, temp copies removed);
//   later stages are skipped and their inputs wait for the next start; exit 0;
// - a second daemon for the same role and radar refuses to start (LockedError, exit 6);
// - systemd hears READY=1 when the watches are in place and WATCHDOG=1 while the event loop lives.
import {access, mkdir} from 'node:fs/promises'
import {join} from 'node:path'

import {SlackAlerter, formatAlert} from '../alert/slack.js'
import {resolvePath} from '../config/load.js'
import type {Config, Role} from '../config/schema.js'
import {ConfigError, LockedError, oneLine} from '../errors.js'
import {blockPrefix} from '../formats/names.js'
import {cleanStaleTemps} from '../fs/atomic.js'
import {acquireLock, type Lock} from '../lock.js'
import {createEventLog, type EventLog, type Level} from '../log/events.js'
import {borealisDataDirectory} from '../stages/rsync-to-nas.js'
import {runStage} from '../stages/runner.js'
import {STAGES, type StageId} from '../stages/specs.js'
import {ROLE_SPECS} from '../../roles/index.js'
import {STAGE_FUNCTIONS} from '../../roles/stages.js'
import {type Batch, ChainScheduler} from './coalesce.js'
import {consumeFlag, type FlagRoute, flagRouteFor, incomingFlagFor, sendFlag} from './flags.js'
import {type Notifier, systemdNotifier} from './notify.js'
import {type Watcher, type WatchSpec, watchDirectory} from './watch.js'

/** Names that count as a new Borealis data file (the original's `.*\.(h5|rawacf)$`). */
export const BOREALIS_FILE = /\.(h5|rawacf)$/

/** Temporary files older than this in the data directory are leftovers of a killed run. */
const STALE_DATA_TEMP_MS = 3_600_000
/** A flag's temporary file lives milliseconds; one this old (watch and flags directories) is a leftover. */
const STALE_FLAG_TEMP_MS = 60_000
/** A stage whose lock is held by another process (an operator's run) is tried again this much later. */
const BUSY_RETRY_MS = 60_000

/** The daemon's own events, beside the stages' (src/lib/log/events.ts). */
export type DaemonEventName =
  | 'daemon.start'
  | 'daemon.ready'
  | 'daemon.stopping'
  | 'daemon.stopped'
  | 'watch.start'
  | 'watch.poll'
  | 'watch.overflow'
  | 'watch.problem'
  | 'trigger.received'
  | 'chain.start'
  | 'chain.stage'
  | 'chain.stopped'
  | 'chain.done'
  | 'rescan.work'
  | 'rescan.idle'
  | 'rescan.failed'
  | 'flag.sent'
  | 'flag.failed'
  | 'flag.consumed'
  | 'stage.busy'
  | 'notify.failed'
  | 'alert.sent'
  | 'alert.failed'

export interface DaemonOptions {
  config: Config
  role: Role
  radar: string
  /** The process's one AbortController signal, fired by SIGTERM/SIGINT. */
  signal: AbortSignal
  /** How long the stage in flight may continue after the stop signal before it is aborted. */
  stopGraceMs: number
  /** Poll the watched directory even where inotify works. */
  forcePoll?: boolean
  /** Polling period for watched directories on network file systems (or with forcePoll). */
  pollIntervalMs: number
  terminalFd?: 1 | 2 | null
  notifier?: Notifier
  now?: () => Date
}

export interface DaemonReport {
  chains: number
  triggers: number
  rescans: number
  overflows: number
}

export interface DaemonHandle {
  /** The watch mode in use ('inotify' or 'poll'). */
  readonly watchMode: 'inotify' | 'poll'
  /** Resolves once the daemon stopped (after the signal), with what it did. */
  readonly done: Promise<DaemonReport>
  /** Aborts the stage in flight at once (a second SIGTERM/SIGINT). */
  abortNow(): void
}

/** `<logging.directory>/inotify_daemons/<role>.log` (campus: `campus_<rad>.log`, as the original). */
export function daemonLogPath(logRoot: string, role: Role, radar: string): string {
  return join(logRoot, 'inotify_daemons', role === 'campus' ? `campus_${radar}.log` : `${role}.log`)
}

/** Of two trigger files, the one of the newer Borealis block (its block is still being written). */
export function newerTrigger(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return (blockPrefix(b) ?? '') >= (blockPrefix(a) ?? '') ? b : a
}

function summarizeReasons(reasons: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const reason of reasons) counts[reason] = (counts[reason] ?? 0) + 1
  return counts
}

/**
 * Starts the daemon: takes the (role, radar) lock, starts watching, reports readiness. Rejects when
 * it cannot start (lock held: LockedError; watch directory missing: Error). Stops when
 * `options.signal` fires; `done` then resolves.
 */
export async function startDaemon(options: DaemonOptions): Promise<DaemonHandle> {
  const {config, role, radar} = options
  const home = process.env.HOME
  const vars = {radar, home}
  const now = options.now ?? (() => new Date())
  const terminalFd = options.terminalFd === undefined ? 1 : options.terminalFd
  const logRoot = resolvePath(config.logging.directory, vars)
  const log: EventLog = createEventLog({
    level: config.logging.level,
    bindings: {role, radar, component: 'daemon'},
    file: daemonLogPath(logRoot, role, radar),
    terminalFd,
  })
  // The stage vocabulary of events.ts does not list the daemon's events; they share the logger.
  const event = log.event as (name: DaemonEventName, fields?: Record<string, unknown>, level?: Level) => void
  const slack = new SlackAlerter({
    webhookUrl: config.alerts.slackWebhook,
    minIntervalMs: config.alerts.minIntervalMs,
    maxAttempts: config.alerts.maxAttempts,
    timeoutSeconds: config.alerts.timeoutSeconds,
  })
  const alert = async (message: string) => {
    const result = await slack.send(formatAlert(radar, message, now()))
    if (result.sent) event('alert.sent', {message})
    else if (result.error) event('alert.failed', {message, error: result.error}, 'warn')
  }
  const notifier = options.notifier ?? systemdNotifier({onError: (error) => event('notify.failed', {error: oneLine(error)}, 'warn')})

  // ---- one daemon per (role, radar) ----
  const stateDir = resolvePath(config.state.directory, vars)
  let lock: Lock
  try {
    lock = await acquireLock(stateDir, `daemon-${role}`, radar)
  } catch (error) {
    if (error instanceof LockedError) {
      const h = error.holder
      throw new LockedError(
        `a ${role} daemon for ${radar} is already running (pid ${h.pid ?? '?'} on ${h.host ?? '?'} since ${h.since ?? '?'}); ` +
          `stop it first (systemctl stop …) — lock ${error.lockFile}`,
        error.lockFile,
        h,
      )
    }
    throw error
  }

  const spec = ROLE_SPECS[role]
  const route: FlagRoute | null = flagRouteFor(config, role, radar, home)
  const incoming = incomingFlagFor(config, role, radar, home)
  const report: DaemonReport = {chains: 0, triggers: 0, rescans: 0, overflows: 0}
  // Fired when the stop grace has run out (or on a second signal): reaches the stage in flight.
  const stageAbort = new AbortController()
  let stopping = false
  let flagOwed = false
  const timers: NodeJS.Timeout[] = []
  const invokedAs = `dataflow daemon --role ${role} --radar ${radar}`

  let watchSpec: WatchSpec
  try {
    watchSpec = await watchSpecFor(config, role, radar, home)
    // Leftovers of interrupted writes (a killed run): flag temps, and in the data directory older ones.
    if (route) await cleanStaleTemps(route.localDirectory, STALE_FLAG_TEMP_MS)
    await cleanStaleTemps(watchSpec.dir, role === 'borealis' ? STALE_DATA_TEMP_MS : STALE_FLAG_TEMP_MS)
  } catch (error) {
    await lock.release()
    throw error
  }
  event('daemon.start', {stages: spec.stages, watch: watchSpec.dir, flagTo: route ? describeRoute(route) : null, rescanMinutes: config.daemon.rescanIntervalMinutes})

  // ---- the chain ----
  const deliverFlag = async (): Promise<void> => {
    if (!route) return
    try {
      const where = await sendFlag(route, {
        config,
        signal: stageAbort.signal,
        onRetry: (error, attempt, delayMs) => event('flag.failed', {flag: route.name, attempt, delayMs, error: oneLine(error), retrying: true}, 'warn'),
      })
      flagOwed = false
      event('flag.sent', {flag: route.name, destination: where})
    } catch (error) {
      const first = !flagOwed
      flagOwed = true
      event('flag.failed', {flag: route.name, destination: describeRoute(route), error: oneLine(error), retrying: false}, 'error')
      if (first) await alert(`could not send ${route.name} to ${describeRoute(route)} (sent again at each rescan until it works): ${oneLine(error)}`)
    }
  }

  const runChain = async (batch: Batch<string>): Promise<void> => {
    report.chains++
    const started = Date.now()
    const trigger = role === 'borealis' ? batch.payload : undefined
    event('chain.start', {reasons: summarizeReasons(batch.reasons), trigger, waitedMs: started - batch.since})
    void notifier.status(`running ${spec.stages.join(' → ')}`)
    const stages: Array<Record<string, unknown>> = []
    let completed = true
    for (const id of spec.stages) {
      if (stopping) {
        event('chain.stopped', {skipped: spec.stages.slice(spec.stages.indexOf(id))}, 'warn')
        completed = false
        break
      }
      stages.push(await runOneStage(id, trigger))
    }
    if (incoming && completed) {
      if (await consumeFlag(incoming.directory, incoming.name).catch(() => false)) event('flag.consumed', {flag: incoming.name})
    }
    if (completed) await deliverFlag()
    event('chain.done', {durationMs: Date.now() - started, stages, completed})
    void notifier.status(`idle; last run ${now().toISOString()}`)
  }

  const runOneStage = async (id: StageId, trigger: string | undefined): Promise<Record<string, unknown>> => {
    const started = Date.now()
    try {
      const result = await runStage(
        STAGES[id],
        {config, radar, dryRun: false, terminalFd, signal: stageAbort.signal, invokedAs, now},
        (context) => STAGE_FUNCTIONS[id].run(context, {trigger}),
      )
      const done = {stage: id, succeeded: result.succeeded, failed: result.failed, durationMs: Date.now() - started}
      event('chain.stage', done, result.failed > 0 ? 'warn' : 'info')
      return done
    } catch (error) {
      // runStage has logged it (stage.failed) and alerted; the later stages still run.
      if (error instanceof LockedError) {
        event('stage.busy', {stage: id, error: oneLine(error), retryInMs: BUSY_RETRY_MS}, 'warn')
        scheduler.requestLater(`busy:${id}`, BUSY_RETRY_MS, `busy:${id}`, trigger)
      }
      const failed = {stage: id, error: oneLine(error), durationMs: Date.now() - started}
      event('chain.stage', failed, 'error')
      return failed
    }
  }

  const scheduler = new ChainScheduler<string>({
    run: runChain,
    merge: newerTrigger,
    onError: (error) => event('chain.done', {error: oneLine(error)}, 'error'),
  })

  // ---- triggers ----
  const settleFollowUpMs = (config.borealis.settleSeconds + 1) * 1000
  const onFile = (path: string, kind: string) => {
    if (stopping) return
    report.triggers++
    const trigger = role === 'borealis' && blockPrefix(path) ? path : undefined
    const outcome = scheduler.request(role === 'borealis' ? 'new-file' : 'flag', trigger)
    event('trigger.received', {file: path, kind, outcome})
    // The block that just ended may still be settling: move it once settleSeconds have passed,
    // not two hours later with the next block.
    if (role === 'borealis') scheduler.requestLater('settle', settleFollowUpMs, 'settle', trigger)
  }

  let watcher: Watcher | null = null
  const startWatching = async (): Promise<void> => {
    watcher = await watchDirectory(
      watchSpec,
      {
        file: onFile,
        overflow: () => {
          report.overflows++
          event('watch.overflow', {directory: watchSpec.dir, action: 'run the chain now (events were lost)'}, 'warn')
          scheduler.request('overflow')
        },
        problem: (message, lost) => event('watch.problem', {message, lost}, lost ? 'error' : 'warn'),
      },
      {forcePoll: options.forcePoll, pollIntervalMs: options.pollIntervalMs},
    )
    if (watcher.mode === 'poll') {
      event('watch.poll', {directory: watchSpec.dir, intervalMs: options.pollIntervalMs, reason: watcher.pollReason}, 'warn')
    } else {
      event('watch.start', {directory: watchSpec.dir, recursive: watchSpec.recursive, events: watchSpec.events})
    }
  }

  // ---- reconcile rescans ----
  const probeErrors = new Map<string, string>()
  /** Why the chain should run although no trigger came, or null. */
  const findWork = async (): Promise<string | null> => {
    if (incoming && (await exists(join(incoming.directory, incoming.name)))) return `${incoming.name} present`
    for (const id of spec.stages) {
      if (!STAGE_FUNCTIONS[id].rescan || stopping) continue
      try {
        // A dry run takes no lock and writes nothing: the stage itself says what it would do.
        const probe = await runStage(STAGES[id], {config, radar, dryRun: true, terminalFd: null, signal: stageAbort.signal, now}, (context) =>
          STAGE_FUNCTIONS[id].run(context, {}),
        )
        probeErrors.delete(id)
        const waiting = probe.files.filter((f) => f.outcome === 'planned').length
        if (waiting > 0) return `${id}: ${waiting} file${waiting === 1 ? '' : 's'} waiting`
      } catch (error) {
        const message = oneLine(error)
        if (probeErrors.get(id) !== message) event('rescan.failed', {stage: id, error: message}, 'warn')
        probeErrors.set(id, message)
      }
    }
    return null
  }

  let rescanning: Promise<void> | null = null
  const rescan = (reason: 'startup' | 'periodic'): Promise<void> => {
    rescanning ??= (async () => {
      if (stopping) return
      report.rescans++
      if (!watcher?.alive) {
        watcher?.close()
        await startWatching().catch((error: unknown) => event('watch.problem', {message: oneLine(error), lost: true}, 'error'))
      }
      if (flagOwed && scheduler.idle) await deliverFlag()
      // A chain running or due sweeps the inputs anyway.
      if (!scheduler.idle || stopping) return
      const why = await findWork()
      if (why && !stopping) {
        event('rescan.work', {reason, why, outcome: scheduler.request(`rescan:${reason}`)})
      } else {
        event('rescan.idle', {reason}, reason === 'startup' ? 'info' : 'debug')
      }
    })().finally(() => (rescanning = null))
    return rescanning
  }

  // ---- start ----
  try {
    if (incoming) await mkdir(incoming.directory, {recursive: true})
    await startWatching()
  } catch (error) {
    await lock.release()
    // A missing or unwatchable directory is the operator's to fix (exit 2), not a bug.
    throw new ConfigError(`cannot watch ${watchSpec.dir}: ${oneLine(error).replace(/^cannot watch \S+: /, '')}`)
  }
  const rescanMs = Math.max(1000, config.daemon.rescanIntervalMinutes * 60_000)
  timers.push(setInterval(() => void rescan('periodic'), rescanMs))
  if (notifier.watchdogIntervalMs !== null) timers.push(setInterval(() => void notifier.watchdog(), notifier.watchdogIntervalMs))
  await notifier.ready(`watching ${watchSpec.dir}`)
  event('daemon.ready', {watchMode: watcher!.mode, notify: notifier.enabled, watchdogMs: notifier.watchdogIntervalMs})
  // Whatever arrived while no daemon ran (events are not kept by the kernel across restarts).
  void rescan('startup')

  // ---- stop ----
  const done = new Promise<DaemonReport>((resolve) => {
    const stop = async () => {
      stopping = true
      event('daemon.stopping', {reason: String(options.signal.reason ?? 'signal'), running: scheduler.running, graceMs: options.stopGraceMs})
      void notifier.stopping('stopping: finishing the stage in flight')
      for (const timer of timers) clearInterval(timer)
      watcher?.close()
      const grace = setTimeout(() => {
        event('daemon.stopping', {action: `grace of ${options.stopGraceMs} ms over: aborting the stage in flight`}, 'warn')
        stageAbort.abort()
      }, options.stopGraceMs)
      const dropped = await scheduler.stop()
      await rescanning
      clearTimeout(grace)
      if (route) await cleanStaleTemps(route.localDirectory, STALE_FLAG_TEMP_MS).catch(() => undefined)
      await lock.release()
      event('daemon.stopped', {...report, droppedRun: dropped.length > 0 ? summarizeReasons(dropped) : null})
      resolve(report)
    }
    if (options.signal.aborted) void stop()
    else options.signal.addEventListener('abort', () => void stop(), {once: true})
  })

  return {
    watchMode: watcher!.mode,
    done,
    abortNow: () => stageAbort.abort(),
  }
}

function describeRoute(route: FlagRoute): string {
  return route.host ? `${route.host.target}:${route.destinationDirectory} (${route.hostKey})` : `${route.destinationDirectory} (this host: ${route.hostKey} not set)`
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

/** What the role watches: the Borealis data tree (borealis), else the directory its flag arrives in. */
async function watchSpecFor(config: Config, role: Role, radar: string, home: string | undefined): Promise<WatchSpec> {
  const vars = {radar, home}
  if (role === 'borealis') {
    // The directory rsync-to-nas reads (the original's daemon watched a hard-coded path instead:
    // docs/design.md#watch-path-hard-coded).
    const dir = config.borealis.configFile
      ? borealisDataDirectory(resolvePath(config.borealis.configFile, vars))
      : resolvePath(config.borealis.dataDirectory, vars)
    const quarantine = resolvePath(config.borealis.quarantineDirectory, vars)
    return {dir, recursive: true, events: ['create'], accept: (name) => BOREALIS_FILE.test(name), skipDirectory: (path) => path === quarantine}
  }
  const incoming = incomingFlagFor(config, role, radar, home)!
  // moved-to: rsync's rename (the original's event); close-write: a flag written in place, e.g. by hand.
  return {dir: incoming.directory, recursive: false, events: ['moved-to', 'close-write'], accept: incoming.accept}
}
