// Sending and moving files through a Transport, with the policy around put():
// - transient failures (dropped connection, timeout) are retried with bounded exponential backoff;
// - a copy that failed verification is re-sent ONCE (and a conflicting destination too, when the
//   caller allows it); a second failure is thrown, never retried again: the caller quarantines
//   and alerts. The original's --append-verify failed the same way on every run instead
//   (docs/design.md#append-verify-forever);
// - the source is deleted only after put() returned a verified copy, the source is unchanged since
//   it was hashed, and the unlink is made durable by fsyncing its directory
//   (docs/design.md#the-verified-move, #delete-before-durable).
import {stat, unlink} from 'node:fs/promises'
import {dirname} from 'node:path'

import {BugError, ConflictError, VerifyError} from '../errors.js'
import {withRetry} from '../exec.js'
import {fsyncDir} from '../fs/atomic.js'
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

export interface SendResult extends PutResult {
  /** put() calls made, retries and the re-send included. */
  attempts: number
  /** True when the first send failed verification (or conflicted) and the re-send succeeded. */
  resent: boolean
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
      return transport.put(localPath, destPath, {algorithm: options.algorithm, mode: options.mode, onConflict, signal})
    },
    {...options.retry, signal, onRetry: options.onRetry ?? options.retry.onRetry},
  )
}

/**
 * Sends one file and proves the copy; on a verification failure (the bad copy was already removed
 * by put) or, when allowed, a conflicting destination, re-sends once with onConflict 'replace'.
 * Throws the second failure as it is (a VerifyError the caller quarantines on).
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

/**
 * Moves a local file to the destination: sendVerifiedWithResend, then delete the source. On every
 * failure the source is kept, untouched. The source must not change while it is sent (a file still
 * being written: docs/design.md#in-progress-files-moved): its size, mtime and inode are compared
 * before and after, and a change is a VerifyError with the source kept.
 */
export async function moveVerified(transport: Transport, localPath: string, destPath: string, options: ResendOptions): Promise<MoveResult> {
  const before = await stat(localPath, {bigint: true})
  const sent = await sendVerifiedWithResend(transport, localPath, destPath, options)
  // The transport promises this; the deletion of an irreplaceable file checks it anyway.
  if (sent.hash !== sent.sourceHash) {
    throw new BugError(`${transport.describe(destPath)}: put returned hash ${sent.hash} for source hash ${sent.sourceHash}`)
  }
  const after = await stat(localPath, {bigint: true})
  if (after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ino !== before.ino) {
    throw new VerifyError(
      `${localPath}: changed while it was being sent (size or mtime); kept, the copy at ${transport.describe(destPath)} is of the earlier content`,
      localPath,
      sent.sourceHash,
      'changed',
    )
  }
  await unlink(localPath)
  await fsyncDir(dirname(localPath))
  return {outcome: sent.outcome, hash: sent.hash, bytes: sent.bytes, attempts: sent.attempts, resent: sent.resent}
}
