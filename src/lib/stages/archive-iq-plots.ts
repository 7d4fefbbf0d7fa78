// Stage archive-iq-plots (campus): antennas_iq plots older than 24 h, by the UTC time in their
// name, move to `<archive>/YYYY/MM/` of their own month (created as needed), with the verified
// move. What the original got wrong: a relative path (run by hand it acted on ~); the `T` in the
// names read by GNU date as a military time zone (a 7 h shift); times compared as strings; a name
// without a time moved into the archive root. Here a name without a valid time is quarantined with
// a reason, and every plot gets a summary line.
import {basename, join} from 'node:path'

import {oneLine} from '../errors.js'
import {parsePlotName} from '../formats/names.js'
import {filesIn} from '../fs/list.js'
import {LocalTransport} from '../transport/local.js'
import {moveVerified} from '../transport/verified-move.js'
import type {StageContext} from './runner.js'
import {type FileRecord, forEachFile, Rejected} from './skeleton.js'

export const ARCHIVE_AFTER_MS = 24 * 3600 * 1000

/** Everything archive-iq-plots needs, resolved by the role layout. */
export interface ArchiveIqPlotsLayout {
  plots: string
  archive: string
  /** The campus quarantine (conversion failure directory). */
  quarantine: string
}

export interface ArchivedPlot extends FileRecord {
  file: string
  destination?: string
}

export interface ArchiveResult {
  succeeded: number
  failed: number
  directory: string
  archive: string
  files: ArchivedPlot[]
}

export async function archiveIqPlots(context: StageContext, layout: ArchiveIqPlotsLayout): Promise<ArchiveResult> {
  const {summary, log, dryRun, signal} = context
  const {plots: directory, archive} = layout
  summary.line(`Archiving from: ${directory}`)
  summary.line(`Archiving to: ${archive}/YYYY/MM/`)
  summary.blank()
  const plots = await filesIn(directory, (n) => n.endsWith('.jpg'))
  const now = context.now().getTime()
  const transport = new LocalTransport()
  const done = await forEachFile(context, plots, {
    quarantineDirectory: layout.quarantine,
    path: (path) => path,
    onFailure: (path, error) => ({summary: [`Archiving failed: ${path}`], quarantine: error instanceof Rejected ? [path] : 'keep'}),
    handle: async (path): Promise<ArchivedPlot> => {
      let time: Date
      try {
        time = parsePlotName(path).time
      } catch (error) {
        throw new Rejected(oneLine(error))
      }
      if (now - time.getTime() <= ARCHIVE_AFTER_MS) return {source: path, file: path, outcome: 'kept', reason: 'younger than 24 h'}
      const yyyy = String(time.getUTCFullYear())
      const mm = String(time.getUTCMonth() + 1).padStart(2, '0')
      const destination = join(archive, yyyy, mm, basename(path))
      if (dryRun) return {source: path, file: path, destination, destinations: [destination], outcome: 'planned'}
      const moved = await moveVerified(transport, path, destination, {algorithm: context.hashAlgorithm, retry: context.retry, signal})
      log.event('transfer.verified', {file: path, destination, hash: moved.hash, outcome: moved.outcome})
      summary.line(`Successfully archived: ${path}`)
      return {source: path, file: path, destination, destinations: [destination], outcome: 'archived'}
    },
  })
  const files = done.files.map((f) => ({file: f.source, ...f}))
  if (files.every((f) => f.outcome === 'kept')) summary.line('No plots to be archived.')
  return {...done, files, directory, archive}
}
