// Shared by the stages that push files to the campus host (rsync-to-campus, transfer-cam-photos):
// open the one connection, then the per-file skeleton: classify (the stage's own rule) → move
// verified (the source is deleted only after its copy was re-read and matched) → the original's
// per-file summary phrases. A misnamed file is quarantined on this host; a failed transfer keeps
// the file for the next run.
import {oneLine} from '../errors.js'
import type {Destination} from '../transport/index.js'
import {moveVerified} from '../transport/verified-move.js'
import type {StageContext} from './runner.js'
import {type FileRecord, forEachFile, type PerFileResult, Rejected} from './skeleton.js'

export interface FileToSend {
  /** Local source (full path, as printed in the summary). */
  source: string
  /** Absolute destination path on the receiving host; null when `classify` rejects the file. */
  destination: string | null
  /** Why the file cannot be sent (misnamed…): it is quarantined with this reason. */
  rejected?: string
  /** Summary line before the transfer (transfer-cam-photos prints one per photo). */
  announce?: string
}

export interface SentFile extends FileRecord {
  destination?: string
  hash?: string
}

export interface PushOptions {
  destination: Destination & {kind: 'ssh'}
  /** Where rejected files go on this host. */
  quarantine: string
  /** Destination file mode. */
  mode: number
}

/** A group of files with its own summary phrase when there are none (the original's layout). */
export interface Section {
  files: readonly FileToSend[]
  whenEmpty?: () => void
}

/** Moves the files of every section over one connection (opened only when there is something to send). */
export async function pushFiles(context: StageContext, sections: readonly Section[], options: PushOptions): Promise<PerFileResult<SentFile>> {
  const results: PerFileResult<SentFile>[] = []
  const {dryRun, summary, log, signal} = context
  const transport = context.transport(options.destination)
  const target = options.destination.host.target
  const open = !dryRun && sections.some((section) => section.files.some((f) => f.destination !== null))
  if (open) {
    try {
      await transport.open(signal)
    } catch (error) {
      summary.line(`Could not establish connection to ${target}`)
      log.event('transfer.failed', {destination: target, error: oneLine(error)}, 'error')
      throw error
    }
  }
  try {
    for (const {files, whenEmpty} of sections) {
      if (files.length === 0) whenEmpty?.()
      else results.push(await sendSection(files))
    }
    return mergeResults(...results)
  } finally {
    if (open) await transport.close()
  }

  function sendSection(files: readonly FileToSend[]): Promise<PerFileResult<SentFile>> {
    return forEachFile(context, files, {
      quarantineDirectory: options.quarantine,
      path: (f) => f.source,
      onFailure: (f, error) => ({
        summary: [`Transfer failed: ${f.source}`],
        quarantine: error instanceof Rejected ? [f.source] : 'keep',
      }),
      handle: async (file): Promise<SentFile> => {
        if (file.announce) {
          summary.blank()
          summary.line(file.announce)
        }
        if (file.destination === null) throw new Rejected(file.rejected ?? `${file.source}: cannot be sent`)
        const destination = transport.describe(file.destination)
        if (dryRun) return {source: file.source, destination, destinations: [destination], outcome: 'planned'}
        log.event('transfer.start', {file: file.source, destination})
        const moved = await moveVerified(transport, file.source, file.destination, {
          algorithm: context.hashAlgorithm,
          mode: options.mode,
          signal,
          retry: context.retry,
          // A same-named file with other content at the destination is a leftover of an earlier
          // failed transfer (the original's --append-verify kept such files forever): replace it once.
          resendOnConflict: true,
          onResend: (error) => log.event('verify.failed', {file: file.source, destination, expected: error.expected, actual: error.actual, action: 're-send once'}, 'warn'),
        })
        log.event('transfer.verified', {file: file.source, destination, hash: moved.hash, outcome: moved.outcome, attempts: moved.attempts})
        summary.line(`Successfully transferred: ${file.source}`)
        return {source: file.source, destination, destinations: [destination], outcome: 'transferred', hash: moved.hash}
      },
    })
  }
}

export function mergeResults<R extends FileRecord>(...results: PerFileResult<R>[]): PerFileResult<R> {
  return {
    succeeded: results.reduce((n, o) => n + o.succeeded, 0),
    failed: results.reduce((n, o) => n + o.failed, 0),
    files: results.flatMap((o) => o.files),
  }
}
