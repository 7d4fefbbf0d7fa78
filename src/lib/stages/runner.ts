// Every stage runs inside runStage(): one shape for all of them, used by the one-off subcommand
// and by the daemon alike. It takes the (stage, radar) lock, opens the event log and the summary
// log (header), runs the stage body, writes the footer, pushes the summary to telemetry (a failed
// push is logged, never fatal) and alerts on failure. Dry runs take no lock and write nothing.
import {hostname} from 'node:os'

import {SlackAlerter, formatAlert} from '../alert/slack.js'
import {buildInfo} from '../build-info.js'
import {type Config, resolvePath} from '../config/index.js'
import {type DataflowError, oneLine} from '../errors.js'
import {acquireLock} from '../lock.js'
import {createEventLog, type EventLog} from '../log/events.js'
import {mainLogPath, SummaryLog} from '../log/summary.js'
import {pushSummary} from '../log/telemetry.js'
import type {StageSpec} from './specs.js'

export interface StageOptions {
  config: Config
  radar: string
  dryRun: boolean
  /** Where terminal event lines go: stderr when stdout carries --json output. */
  terminalFd?: 1 | 2 | null
  signal?: AbortSignal
  /** How the run was invoked, for the summary header. */
  invokedAs?: string
  now?: () => Date
}

export interface StageContext {
  config: Config
  radar: string
  dryRun: boolean
  signal: AbortSignal
  log: EventLog
  summary: SummaryLog
  /** Sends a Slack alert (formatted with time and radar); never throws. */
  alert: (message: string) => Promise<void>
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
  const {config, radar, dryRun} = options
  const now = options.now ?? (() => new Date())
  const home = process.env.HOME
  const logRoot = resolvePath(config.logging.directory, {radar, home})
  const log = createEventLog({
    level: config.logging.level,
    bindings: {role: stage.role, stage: stage.id, radar},
    file: dryRun ? null : mainLogPath(logRoot, stage, now(), radar),
    terminalFd: options.terminalFd,
  })
  const slack = new SlackAlerter({
    webhookUrl: config.alerts.slackWebhook,
    minIntervalMs: config.alerts.minIntervalMs,
    maxAttempts: config.alerts.maxAttempts,
    timeoutSeconds: config.alerts.timeoutSeconds,
  })
  const alert = async (message: string) => {
    if (dryRun) return
    const result = await slack.send(formatAlert(radar, message, now()))
    if (result.sent) log.event('alert.sent', {message})
    else if (result.error) log.event('alert.failed', {message, error: result.error}, 'warn')
  }

  const lock = dryRun ? null : await acquireLock(resolvePath(config.state.directory, {radar, home}), stage.id, radar).catch((error: unknown) => {
    log.event('lock.busy', {error: oneLine(error)}, 'warn')
    throw error
  })
  const build = await buildInfo()
  const summary = new SummaryLog({
    stage,
    logRoot,
    radar,
    invokedAs: options.invokedAs ?? `${process.argv[1] ?? 'dataflow'} ${stage.id}`,
    host: hostname(),
    build: {version: build.version, commit: build.commit, date: new Date(build.date)},
    now,
    write: !dryRun,
  })
  const controller = new AbortController()
  const onAbort = () => controller.abort()
  options.signal?.addEventListener('abort', onAbort, {once: true})
  const started = Date.now()
  log.event('stage.start', {dryRun})
  summary.header()
  try {
    const result = await body({config, radar, dryRun, signal: controller.signal, log, summary, alert, now})
    summary.footer()
    log.event('stage.done', {succeeded: result.succeeded, failed: result.failed, durationMs: Date.now() - started})
    const full: R & StageResult = {...result, stage: stage.id, radar, dryRun, summaryFile: dryRun ? null : summary.path}
    if (!dryRun) full.telemetry = await pushTelemetry(stage, config, radar, summary.path, log, controller.signal)
    return full
  } catch (error) {
    summary.footer()
    log.event('stage.failed', {error: oneLine(error), exitCode: (error as DataflowError).exitCode}, 'error')
    await alert(`${stage.script} failed: ${oneLine(error)}`)
    if (!dryRun) await pushTelemetry(stage, config, radar, summary.path, log, controller.signal)
    throw error
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    await lock?.release()
  }
}

async function pushTelemetry(
  stage: StageSpec,
  config: Config,
  radar: string,
  summaryFile: string,
  log: EventLog,
  signal: AbortSignal,
): Promise<StageResult['telemetry']> {
  const host = config.hosts.telemetry
  if (!stage.telemetry || !host) return undefined
  const result = await pushSummary({
    summaryFile,
    host,
    telemetryDir: config.telemetry.directory,
    radar,
    stage: stage.logDir ?? stage.script,
    timeouts: {sshConnectSeconds: config.timeouts.sshConnectSeconds, telemetrySeconds: config.timeouts.telemetrySeconds},
    signal,
  })
  if (result.ok) log.event('telemetry.pushed', {destination: result.destination})
  else log.event('telemetry.failed', {destination: result.destination, error: result.error}, 'warn')
  return result
}
