// Typed event log: one JSON line per event (pino), to the terminal and to the stage's daily log
// file. Destinations are synchronous pino destinations: no worker-thread transports (they cannot
// work inside the single executable). Rotation is the OS's job (logrotate/journald).
import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import {Writable} from 'node:stream'
import pino from 'pino'

export type EventName =
  | 'stage.start'
  | 'stage.done'
  | 'stage.failed'
  | 'stage.interrupted'
  | 'file.detected'
  | 'file.skipped'
  | 'file.quarantined'
  | 'file.failed'
  | 'file.kept'
  | 'transfer.start'
  | 'transfer.verified'
  | 'transfer.failed'
  | 'transfer.retry'
  | 'verify.failed'
  | 'lock.busy'
  | 'alert.sent'
  | 'alert.failed'
  | 'telemetry.pushed'
  | 'telemetry.failed'

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'

export interface EventLog {
  event(name: EventName, fields?: Record<string, unknown>, level?: Level): void
  child(bindings: Record<string, unknown>): EventLog
  /** The daily JSON-lines file, or null when logging to the terminal only. */
  readonly file: string | null
  /**
   * Flushes and closes the log file (the terminal stays open). Every createEventLog with a file
   * must be closed by its owner: a daemon makes one per stage run, for months.
   */
  close(): Promise<void>
}

export interface EventLogOptions {
  level: Level
  /** Bindings on every line, e.g. {role, stage, radar}. */
  bindings?: Record<string, unknown>
  /** Daily log file (created with its directories); null for none. */
  file?: string | null
  /** Terminal stream: 1 (stdout), 2 (stderr, used when stdout carries --json output) or null. */
  terminalFd?: 1 | 2 | null
}

function wrap(logger: pino.Logger, file: string | null, close: () => Promise<void>): EventLog {
  return {
    file,
    event(name, fields = {}, level = 'info') {
      logger[level]({event: name, ...fields})
    },
    child(bindings) {
      return wrap(logger.child(bindings), file, close)
    },
    close,
  }
}

/** Where lines go when there is neither a terminal nor a file (dry-run probes): nowhere, no descriptor. */
const DISCARD = new Writable({write: (_chunk, _encoding, done) => done()})

export function createEventLog(options: EventLogOptions): EventLog {
  const streams: pino.StreamEntry[] = []
  const terminal = options.terminalFd === undefined ? 1 : options.terminalFd
  if (terminal !== null) streams.push({level: options.level, stream: pino.destination({dest: terminal, sync: true})})
  const file = options.file ?? null
  let fileStream: ReturnType<typeof pino.destination> | null = null
  if (file) {
    mkdirSync(dirname(file), {recursive: true})
    fileStream = pino.destination({dest: file, sync: true, append: true})
    streams.push({level: options.level, stream: fileStream})
  }
  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= new Promise<void>((resolve, reject) => {
      if (!fileStream) return resolve()
      fileStream.once('close', () => resolve())
      fileStream.once('error', reject)
      fileStream.end()
    }))
  const logger = pino(
    {
      level: options.level,
      base: {pid: process.pid, ...options.bindings},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {level: (label) => ({level: label})},
      redact: {paths: ['webhookUrl', '*.webhookUrl', 'slackWebhook', '*.slackWebhook'], censor: '********'},
    },
    streams.length > 0 ? pino.multistream(streams) : DISCARD,
  )
  return wrap(logger, file, close)
}
