// Every stage runs inside runStage(): one shape for all of them, used by the one-off subcommand
// and by the daemon alike. It takes the (stage, radar) lock, opens the event log and the summary
// log (header), runs the stage body, writes the footer, pushes the summary to telemetry (a failed
// push is logged, never fatal) and alerts on failure. Dry runs take no lock and write nothing.
// A stop request (SIGTERM/SIGINT) that ends a stage is not a failure: it is logged as
// stage.interrupted, sends no alert, and the files left are taken by the next run.
//
// Stages never see the configuration: they get a StageRuntime (here) and their own layout (their
// directories, hosts and routes), both resolved once per role and radar by src/roles/layout.ts.
import {hostname} from 'node:os'

import {formatAlert, SlackAlerter, type SlackAlerterOptions} from '../alert/slack.js'
import {buildInfo} from '../build-info.js'
import type {HostConfig} from '../config/schema.js'
import {type DataflowError, InterruptedError, isInterruption, oneLine} from '../errors.js'
import type {HashAlgorithm} from '../hash.js'
import {acquireLock} from '../lock.js'
import {createEventLog, type EventLog, type Level} from '../log/events.js'
import {mainLogPath, SummaryLog} from '../log/summary.js'
import {pushSummary} from '../log/telemetry.js'
import {type Destination, type Transport, transportFor, type TransportSettings} from '../transport/index.js'
import type {RetryPolicy} from '../transport/verified-move.js'
import type {StageSpec} from './specs.js'

/** What every stage of one (role, radar) shares: resolved paths and settings, no config. */
export interface StageRuntime {
  radar: string
  hashAlgorithm: HashAlgorithm
  retry: Omit<RetryPolicy, 'signal' | 'onRetry'>
  logRoot: string
  logLevel: Level
  stateDirectory: string
  alerts: Omit<SlackAlerterOptions, 'fetch'>
  /** hosts.telemetry (null: summaries stay on this host) and where they go there. */
  telemetry: {host: HostConfig | null; directory: string; timeouts: {sshConnectSeconds: number; telemetrySeconds: number}}
  transport: TransportSettings
}

export interface StageOptions {
  runtime: StageRuntime
  dryRun: boolean
  /** Where terminal event lines go: stderr when stdout carries --json output. */
  terminalFd?: 1 | 2 | null
  signal?: AbortSignal
  /** How the run was invoked, for the summary header. */
  invokedAs?: string
  now?: () => Date
}

export interface StageContext {
  radar: string
  dryRun: boolean
  signal: AbortSignal
  log: EventLog
  summary: SummaryLog
  hashAlgorithm: HashAlgorithm
  retry: RetryPolicy
  /** Sends a Slack alert (formatted with time and radar); never throws; nothing in dry runs. */
  alert: (message: string) => Promise<void>
  /** The transport to a destination, with the runtime's timeouts and control directory. */
  transport: (destination: Destination) => Transport
  now: () => Date
}

/** What every stage body returns. `failed` > 0 makes the command exit 3. */
export interface StageResult {
  stage: string
  radar: string
  dryRun: boolean
  succeeded: number
  failed: number
  summaryFile: string | null
  telemetry?: {ok: boolean; destination: string; error?: string}
}

export async function runStage<R extends Omit<StageResult, 'stage' | 'radar' | 'dryRun' | 'summaryFile' | 'telemetry'>>(
  stage: StageSpec,
  options: StageOptions,
  body: (context: StageContext) => Promise<R>,
): Promise<R & StageResult> {
  const {runtime, dryRun} = options
  const {radar} = runtime
  const now = options.now ?? (() => new Date())
  const log = createEventLog({
    level: runtime.logLevel,
    bindings: {role: stage.role, stage: stage.id, radar},
    file: dryRun ? null : mainLogPath(runtime.logRoot, stage, now(), radar),
    terminalFd: options.terminalFd,
  })
  try {
    return await runWithLog(stage, options, log, now, body)
  } finally {
    await log.close()
  }
}

async function runWithLog<R extends Omit<StageResult, 'stage' | 'radar' | 'dryRun' | 'summaryFile' | 'telemetry'>>(
  stage: StageSpec,
  options: StageOptions,
  log: EventLog,
  now: () => Date,
  body: (context: StageContext) => Promise<R>,
): Promise<R & StageResult> {
  const {runtime, dryRun} = options
  const {radar} = runtime
  const slack = new SlackAlerter(runtime.alerts)
  const alert = async (message: string) => {
    if (dryRun) return
    const result = await slack.send(formatAlert(radar, message, now()))
    if (result.sent) log.event('alert.sent', {message})
    else if (result.error) log.event('alert.failed', {message, error: result.error}, 'warn')
  }

  const lock = dryRun
    ? null
    : await acquireLock(runtime.stateDirectory, stage.id, radar).catch((error: unknown) => {
        log.event('lock.busy', {error: oneLine(error)}, 'warn')
        throw error
      })
  try {
    const build = await buildInfo()
    const summary = new SummaryLog({
      stage,
      logRoot: runtime.logRoot,
      radar,
      invokedAs: options.invokedAs ?? `${process.argv[1] ?? 'dataflow'} ${stage.id}`,
      host: hostname(),
      build: {version: build.version, commit: build.commit, date: new Date(build.date)},
      now,
      write: !dryRun,
    })
    const controller = new AbortController()
    const onAbort = () => controller.abort(options.signal?.reason)
    if (options.signal?.aborted) onAbort()
    options.signal?.addEventListener('abort', onAbort, {once: true})
    const signal = controller.signal
    const started = Date.now()
    log.event('stage.start', {dryRun})
    summary.header()
    try {
      const context: StageContext = {
        radar,
        dryRun,
        signal,
        log,
        summary,
        hashAlgorithm: runtime.hashAlgorithm,
        retry: {
          ...runtime.retry,
          signal,
          onRetry: (error, attempt, delayMs) => log.event('transfer.retry', {attempt, delayMs, error: oneLine(error)}, 'warn'),
        },
        alert,
        transport: (destination) => transportFor(destination, runtime.transport),
        now,
      }
      const result = await body(context)
      summary.footer()
      log.event('stage.done', {succeeded: result.succeeded, failed: result.failed, durationMs: Date.now() - started})
      const full: R & StageResult = {...result, stage: stage.id, radar, dryRun, summaryFile: dryRun ? null : summary.path}
      if (!dryRun) full.telemetry = await pushTelemetry(stage, runtime, summary.path, log, signal)
      return full
    } catch (error) {
      summary.footer()
      if (isInterruption(error, signal)) {
        // Asked to stop: not a failure, no alert. What is left waits for the next run.
        log.event('stage.interrupted', {error: oneLine(error), durationMs: Date.now() - started}, 'warn')
        throw error instanceof InterruptedError ? error : new InterruptedError(`${stage.id} interrupted: ${oneLine(error)}`, {cause: error})
      }
      log.event('stage.failed', {error: oneLine(error), exitCode: (error as DataflowError).exitCode}, 'error')
      await alert(`${stage.script} failed: ${oneLine(error)}`)
      if (!dryRun) await pushTelemetry(stage, runtime, summary.path, log, signal)
      throw error
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  } finally {
    await lock?.release()
  }
}

async function pushTelemetry(stage: StageSpec, runtime: StageRuntime, summaryFile: string, log: EventLog, signal: AbortSignal): Promise<StageResult['telemetry']> {
  const {host, directory, timeouts} = runtime.telemetry
  if (!stage.telemetry || !host) return undefined
  const result = await pushSummary({summaryFile, host, telemetryDir: directory, radar: runtime.radar, stage: stage.logDir ?? stage.script, timeouts, signal})
  if (result.ok) log.event('telemetry.pushed', {destination: result.destination})
  else log.event('telemetry.failed', {destination: result.destination, error: result.error}, 'warn')
  return result
}
