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
  STORAGE: 7,
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
  [EXIT.STORAGE, 'a file system refused: permission denied, read-only or full'],
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

/**
 * What a file-system error code means for the operator, and the exit code it gets when it ends a
 * command. A missing path is a configuration problem (2: create it or fix the key); a refusal by
 * the file system (permissions, a read-only mount, a full disk) is 7. Anything else a file system
 * says is unexpected here and stays an internal error.
 */
export const FS_ERRORS: Readonly<Record<string, {exitCode: ExitCode; reason: string}>> = {
  ENOENT: {exitCode: EXIT.USAGE, reason: 'no such file or directory'},
  ENOTDIR: {exitCode: EXIT.USAGE, reason: 'a part of the path is not a directory'},
  EISDIR: {exitCode: EXIT.USAGE, reason: 'is a directory'},
  ELOOP: {exitCode: EXIT.USAGE, reason: 'too many symbolic links'},
  ENAMETOOLONG: {exitCode: EXIT.USAGE, reason: 'name too long'},
  EACCES: {exitCode: EXIT.STORAGE, reason: 'permission denied'},
  EPERM: {exitCode: EXIT.STORAGE, reason: 'operation not permitted'},
  EROFS: {exitCode: EXIT.STORAGE, reason: 'read-only file system'},
  ENOSPC: {exitCode: EXIT.STORAGE, reason: 'no space left on the device'},
  EDQUOT: {exitCode: EXIT.STORAGE, reason: 'disk quota exceeded'},
  EMFILE: {exitCode: EXIT.INTERNAL, reason: 'too many open files'},
}

/** A Node.js system error (fs, spawn): it has an errno code and, for fs calls, the path. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && 'errno' in error
}

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof DataflowError) return error.exitCode
  if (isSystemError(error)) return FS_ERRORS[error.code!]?.exitCode ?? EXIT.INTERNAL
  return EXIT.INTERNAL
}

/**
 * One line, for humans: no stack, no newlines. A system error reads "<path>: <reason> (<CODE>,
 * <syscall>)" — the path first, as in every other message — instead of Node's "ENOENT: no such
 * file or directory, scandir '/x'".
 */
export function oneLine(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error)
  if (isSystemError(error) && error.path !== undefined && error.message.startsWith(`${error.code}:`)) {
    const reason = FS_ERRORS[error.code!]?.reason ?? error.message.slice(error.code!.length + 1).split(',')[0]!.trim()
    const dest = (error as {dest?: string}).dest
    text = `${error.path}${dest ? ` → ${dest}` : ''}: ${reason} (${error.code}${error.syscall ? `, ${error.syscall}` : ''})`
  }
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

/** Whether an error is the consequence of a stop request (SIGTERM/SIGINT) rather than a failure. */
export function isInterruption(error: unknown, signal?: AbortSignal): boolean {
  if (error instanceof InterruptedError) return true
  if (error instanceof Error && error.name === 'AbortError') return true
  return signal?.aborted === true
}
