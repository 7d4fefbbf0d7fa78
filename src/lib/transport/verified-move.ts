// The one verified move, for every stage and destination (local directory, NAS mount, ssh host):
// - put() through a Transport proves each copy (temp name → fsync → rename → fsync dir → re-read
//   where it lives and compare hashes);
// - transient failures (dropped connection, timeout) are retried with bounded exponential backoff;
// - a copy that failed verification is re-sent ONCE (and a conflicting destination too, when the
//   caller allows it); a second failure is thrown, never retried again: the caller quarantines
//   and alerts. (The original's rsync --append-verify failed the same way on every run, forever.)
// - the source is deleted only after EVERY destination returned a verified copy and the source is
//   unchanged since it was hashed (size, mtime, inode): a file still being written is kept
//   (SourceChangedError), never deleted after a copy of its earlier content. The unlink is made
//   durable by fsyncing its directory.
import {type BigIntStats} from 'node:fs'
import {stat, unlink} from 'node:fs/promises'
import {dirname} from 'node:path'

import {BugError, ConflictError, PartialFailureError, VerifyError} from '../errors.js'
import {withRetry} from '../exec.js'
import {fsyncPath} from '../fs/atomic.js'
import type {HashAlgorithm} from '../hash.js'
import type {PutResult, Transport} from './types.js'

export interface RetryPolicy {
  attempts: number
  initialDelayMs: number
  maxDelayMs: number
  signal?: AbortSignal
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

export interface SendOptions {
  algorithm: HashAlgorithm
  mode?: number
  /** Group of the destination (local transport only). */
  group?: string
  /** Retries of transient errors (config.retry, optionally with its own signal and onRetry). */
  retry: RetryPolicy
  signal?: AbortSignal
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

export interface ResendOptions extends SendOptions {
  /**
   * Also re-send (replacing the destination) when it exists with different content. Only for
   * callers that know the destination may hold a bad earlier copy; default false: ConflictError.
   */
  resendOnConflict?: boolean
  /** Called before the one re-send, with the error that caused it (for the event log). */
  onResend?: (error: VerifyError) => void
}

export interface MoveOptions extends ResendOptions {
  /**
   * Sources whose content the moved file carries and that go with it: the `.rawacf` a
   * `.rawacf.bz2` was compressed from. Checked unchanged like the source, deleted after it.
   */
  carries?: readonly string[]
  /** Called after each destination verified (for the event log). */
  onCopied?: (destPath: string, sent: SendResult) => void
}

export interface SendResult extends PutResult {
  /** put() calls made, retries and the re-send included. */
  attempts: number
  /** True when the first send failed verification (or conflicted) and the re-send succeeded. */
  resent: boolean
}

/** The source changed while it was being sent: still being written. Kept for the next run. */
export class SourceChangedError extends PartialFailureError {
  constructor(readonly file: string) {
    super(`${file}: changed while it was being sent (still being written); kept for the next run`)
  }
}

/** put() with bounded retries of transient errors; counts every call in `count.attempts`. */
function putWithRetry(
  transport: Transport,
  localPath: string,
  destPath: string,
  options: SendOptions,
  onConflict: 'error' | 'replace',
  count: {attempts: number},
): Promise<PutResult> {
  const signal = options.signal ?? options.retry.signal
  return withRetry(
    () => {
      count.attempts++
      return transport.put(localPath, destPath, {algorithm: options.algorithm, mode: options.mode, group: options.group, onConflict, signal})
    },
    {...options.retry, signal, onRetry: options.onRetry ?? options.retry.onRetry},
  )
}

/**
 * Sends one file and proves the copy (the source stays); on a verification failure (the bad copy
 * was already removed by put) or, when allowed, a conflicting destination, re-sends once with
 * onConflict 'replace'. Throws the second failure as it is (a VerifyError the caller quarantines on).
 */
export async function sendVerifiedWithResend(
  transport: Transport,
  localPath: string,
  destPath: string,
  options: ResendOptions,
): Promise<SendResult> {
  const count = {attempts: 0}
  try {
    return {...(await putWithRetry(transport, localPath, destPath, options, 'error', count)), attempts: count.attempts, resent: false}
  } catch (error) {
    const mismatch = error instanceof VerifyError && !(error instanceof ConflictError)
    const conflict = error instanceof ConflictError && options.resendOnConflict === true
    if (!mismatch && !conflict) throw error
    options.onResend?.(error)
    const second = await putWithRetry(transport, localPath, destPath, options, 'replace', count)
    return {...second, attempts: count.attempts, resent: true}
  }
}

export interface MoveResult {
  outcome: PutResult['outcome']
  hash: string
  bytes: number
  attempts: number
  resent: boolean
}

const sameFile = (a: BigIntStats, b: BigIntStats | null) => b !== null && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino

/**
 * Moves a local file to one or more destinations (in order: e.g. the backup copy first), then
 * deletes the source (and `carries`). On every failure the sources are kept, untouched; copies
 * already verified stay (a re-run finds them identical). A verification failure while the source
 * changed is a SourceChangedError (keep and retry), not corruption.
 */
export async function moveVerified(
  transport: Transport,
  localPath: string,
  destinations: string | readonly string[],
  options: MoveOptions,
): Promise<MoveResult> {
  const targets = typeof destinations === 'string' ? [destinations] : destinations
  if (targets.length === 0) throw new BugError(`${localPath}: moveVerified without a destination`)
  const watched = [localPath, ...(options.carries ?? [])]
  const before = await Promise.all(watched.map((path) => stat(path, {bigint: true})))
  const changed = async () => {
    const after = await Promise.all(watched.map((path) => stat(path, {bigint: true}).catch(() => null)))
    return before.some((b, i) => !sameFile(b, after[i]!))
  }
  let last: SendResult | undefined
  let attempts = 0
  let resent = false
  const made: string[] = []
  /** The source is still being written: the copies this call made hold earlier content and go. */
  const stillWritten = async (): Promise<never> => {
    for (const target of made) await transport.remove(target, options.signal)
    throw new SourceChangedError(localPath)
  }
  for (const target of targets) {
    try {
      last = await sendVerifiedWithResend(transport, localPath, target, options)
    } catch (error) {
      if (error instanceof VerifyError && (await changed())) await stillWritten()
      throw error
    }
    if (last.outcome === 'copied') made.push(target)
    // The transport promises this; the deletion of an irreplaceable file checks it anyway.
    if (last.hash !== last.sourceHash) {
      throw new BugError(`${transport.describe(target)}: put returned hash ${last.hash} for source hash ${last.sourceHash}`)
    }
    attempts += last.attempts
    resent ||= last.resent
    options.onCopied?.(target, last)
  }
  if (await changed()) await stillWritten()
  for (const path of watched) {
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      // A carried file someone else removed meanwhile is gone either way.
      if (error.code !== 'ENOENT' || path === localPath) throw error
    })
    await fsyncPath(dirname(path))
  }
  return {outcome: last!.outcome, hash: last!.hash, bytes: last!.bytes, attempts, resent}
}
