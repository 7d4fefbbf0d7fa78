// The error taxonomy and the exit codes. Exit codes are decided here and nowhere else;
// `dataflow --help` prints EXIT_CODE_HELP so operators' scripts and systemd units can rely on them.

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  PARTIAL: 3,
  VERIFY: 4,
  UNREACHABLE: 5,
  BUSY: 6,
  INTERRUPTED: 130,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export const EXIT_CODE_HELP: ReadonlyArray<readonly [ExitCode, string]> = [
  [EXIT.OK, 'success'],
  [EXIT.INTERNAL, 'internal error (a bug: please report it with the log)'],
  [EXIT.USAGE, 'usage or configuration error (the operator must act)'],
  [EXIT.PARTIAL, 'some files failed (they were kept or quarantined, never deleted)'],
  [EXIT.VERIFY, 'verification failed (a copy did not match its source)'],
  [EXIT.UNREACHABLE, 'a host or an external tool is unreachable or missing'],
  [EXIT.BUSY, 'another instance holds the lock for this stage and radar'],
  [EXIT.INTERRUPTED, 'interrupted (SIGINT/SIGTERM)'],
]

/** Base class: every error we raise on purpose carries its exit code and whether a retry may help. */
export abstract class DataflowError extends Error {
  abstract readonly exitCode: ExitCode
  /** True when the same operation may succeed if retried later (timeouts, dropped connections). */
  readonly transient: boolean = false
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The configuration or the command line is wrong: the operator must act. */
export class ConfigError extends DataflowError {
  readonly exitCode = EXIT.USAGE
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message)
  }
}

export class UsageError extends DataflowError {
  readonly exitCode = EXIT.USAGE
}

/** An external program failed or could not be started. */
export class ExternalToolError extends DataflowError {
  readonly exitCode: ExitCode
  override readonly transient: boolean
  constructor(
    message: string,
    readonly details: {
      argv: readonly string[]
      code: number | null
      signal: NodeJS.Signals | null
      stderrTail: string
      timedOut?: boolean
      missing?: boolean
    },
    options: {transient?: boolean; unreachable?: boolean} = {},
  ) {
    super(message)
    this.transient = options.transient ?? false
    this.exitCode = options.unreachable || details.missing ? EXIT.UNREACHABLE : EXIT.PARTIAL
  }
}

/** A host could not be reached (ssh exit 255, connection refused, timeout). */
export class UnreachableError extends DataflowError {
  readonly exitCode = EXIT.UNREACHABLE
  override readonly transient = true
}

/** A copy did not match its source. */
export class VerifyError extends DataflowError {
  readonly exitCode = EXIT.VERIFY
  constructor(
    message: string,
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(message)
  }
}

/** The destination already holds a file of that name with different content (never overwritten silently). */
export class ConflictError extends VerifyError {}

/** A data file is malformed. `offset` is a byte offset when one is known. */
export class FormatError extends DataflowError {
  readonly exitCode = EXIT.PARTIAL
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly offset?: number,
  ) {
    super(`${file}: ${reason}${offset === undefined ? '' : ` (at byte ${offset})`}`)
  }
}

/** Another process holds the exclusive lock for a (stage, radar). */
export class LockedError extends DataflowError {
  readonly exitCode = EXIT.BUSY
  constructor(
    message: string,
    readonly lockFile: string,
    readonly holder: {pid?: number; host?: string; since?: string; command?: string},
  ) {
    super(message)
  }
}

/** Some files of a run failed; the run itself completed. */
export class PartialFailureError extends DataflowError {
  readonly exitCode = EXIT.PARTIAL
}

export class InterruptedError extends DataflowError {
  readonly exitCode = EXIT.INTERRUPTED
}

/** An invariant of our own code was broken. */
export class BugError extends DataflowError {
  readonly exitCode = EXIT.INTERNAL
}

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof DataflowError) return error.exitCode
  return EXIT.INTERNAL
}

/** One line, for humans: no stack, no newlines. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
