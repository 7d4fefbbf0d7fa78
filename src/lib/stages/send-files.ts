// Shared by the stages that push files to another host (rsync-to-campus, transfer-cam-photos):
// open the one connection, move each file verified (the source is deleted only after its copy
// was re-read and matched), write the original's per-file summary phrases, and report per file.
import {oneLine} from '../errors.js'
import {moveVerified} from '../transport/verified-move.js'
import type {Transport} from '../transport/types.js'
import type {StageContext} from './runner.js'

export interface FileToSend {
  /** Local source (full path, as printed in the summary). */
  source: string
  /** Absolute destination path on the receiving host. */
  destination: string
  /** Summary line before the transfer (transfer-cam-photos prints one per photo). */
  announce?: string
}

export interface SentFile {
  source: string
  destination: string
  outcome: 'transferred' | 'failed' | 'planned'
  hash?: string
  reason?: string
}

export interface SendOutcome {
  succeeded: number
  failed: number
  files: SentFile[]
}

/**
 * Moves files one by one over an opened transport. A failure of one file is reported (summary
 * line, event, alert) and the next file is tried; the source of a failed file is never touched.
 * `mode` is the destination file mode (e.g. 0o664).
 */
export async function sendFiles(context: StageContext, transport: Transport, files: readonly FileToSend[], mode?: number): Promise<SendOutcome> {
  const {config, dryRun, summary, log, signal} = context
  const out: SendOutcome = {succeeded: 0, failed: 0, files: []}
  for (const file of files) {
    if (signal.aborted) break
    const destination = transport.describe(file.destination)
    if (file.announce) {
      summary.blank()
      summary.line(file.announce)
    }
    if (dryRun) {
      out.files.push({source: file.source, destination, outcome: 'planned'})
      continue
    }
    log.event('transfer.start', {file: file.source, destination})
    try {
      const moved = await moveVerified(transport, file.source, file.destination, {
        algorithm: config.hashAlgorithm,
        mode,
        signal,
        retry: {
          ...config.retry,
          signal,
          onRetry: (error, attempt, delayMs) => log.event('transfer.retry', {file: file.source, attempt, delayMs, error: oneLine(error)}, 'warn'),
        },
        // A same-named file with other content at the destination is a leftover of an earlier
        // failed transfer (the original's --append-verify kept such files forever): replace it once.
        resendOnConflict: true,
        onResend: (error) => log.event('verify.failed', {file: file.source, destination, expected: error.expected, actual: error.actual, action: 're-send once'}, 'warn'),
      })
      log.event('transfer.verified', {file: file.source, destination, hash: moved.hash, outcome: moved.outcome, attempts: moved.attempts})
      summary.line(`Successfully transferred: ${file.source}`)
      out.succeeded++
      out.files.push({source: file.source, destination, outcome: 'transferred', hash: moved.hash})
    } catch (error) {
      const reason = oneLine(error)
      log.event('transfer.failed', {file: file.source, destination, error: reason}, 'error')
      summary.line(`Transfer failed: ${file.source}`)
      await context.alert(`transfer failed: ${file.source} → ${destination}: ${reason}`)
      out.failed++
      out.files.push({source: file.source, destination, outcome: 'failed', reason})
    }
  }
  return out
}

export function mergeOutcomes(...outcomes: SendOutcome[]): SendOutcome {
  return {
    succeeded: outcomes.reduce((n, o) => n + o.succeeded, 0),
    failed: outcomes.reduce((n, o) => n + o.failed, 0),
    files: outcomes.flatMap((o) => o.files),
  }
}
