// Stage archive-iq-plots (campus): antennas_iq plots older than 24 h,
// by the UTC time in their name, move to `<archive>/YYYY/MM/` of their own month (created as
// needed), with the verified local move. Fixed defects of the original: absolute paths from the config
// (the original's relative path acted on ~ when run by hand); times parsed as UTC (the original's
// GNU date read the `T` as a military time zone, shifting 7 h) and compared as numbers, not
// strings; a name without a time is reported and left, never moved into the archive root; per-file
// summary lines and a footer (docs/design.md#archive-relative-path, #archive-time-misparsed,
// #archive-unobservable).
import {basename, join} from 'node:path'

import {resolvePath} from '../config/index.js'
import {oneLine} from '../errors.js'
import {parsePlotName} from '../formats/names.js'
import {moveFileVerified} from '../fs/atomic.js'
import {filesIn} from './rsync-to-campus.js'
import type {StageContext} from './runner.js'

export const ARCHIVE_AFTER_MS = 24 * 3600 * 1000

export interface ArchivedPlot {
  file: string
  destination?: string
  outcome: 'archived' | 'kept' | 'failed' | 'planned'
  reason?: string
}

export interface ArchiveResult {
  succeeded: number
  failed: number
  directory: string
  archive: string
  files: ArchivedPlot[]
}

export async function archiveIqPlots(context: StageContext): Promise<ArchiveResult> {
  const {config, radar, summary, log, dryRun, signal} = context
  const home = process.env.HOME
  const directory = resolvePath(config.campus.plotsDirectory, {radar, home})
  const archive = resolvePath(config.campus.plotsArchiveDirectory, {radar, home})
  summary.line(`Archiving from: ${directory}`)
  summary.line(`Archiving to: ${archive}/YYYY/MM/`)
  summary.blank()
  const result: ArchiveResult = {succeeded: 0, failed: 0, directory, archive, files: []}
  const plots = await filesIn(directory, (n) => n.endsWith('.jpg'))
  const now = context.now().getTime()
  let due = 0
  for (const path of plots) {
    if (signal.aborted) break
    let time: Date
    try {
      time = parsePlotName(path).time
    } catch (error) {
      const reason = oneLine(error)
      summary.line(`Archiving failed: ${path}`)
      log.event('file.failed', {file: path, error: reason}, 'error')
      if (!dryRun) await context.alert(`${reason}; left in place`)
      result.failed++
      result.files.push({file: path, outcome: 'failed', reason})
      continue
    }
    if (now - time.getTime() <= ARCHIVE_AFTER_MS) {
      result.files.push({file: path, outcome: 'kept', reason: 'younger than 24 h'})
      continue
    }
    due++
    const yyyy = String(time.getUTCFullYear())
    const mm = String(time.getUTCMonth() + 1).padStart(2, '0')
    const destination = join(archive, yyyy, mm, basename(path))
    if (dryRun) {
      result.files.push({file: path, destination, outcome: 'planned'})
      continue
    }
    try {
      const moved = await moveFileVerified(path, destination, {algorithm: config.hashAlgorithm, signal})
      log.event('transfer.verified', {file: path, destination, hash: moved.hash, outcome: moved.outcome})
      summary.line(`Successfully archived: ${path}`)
      result.succeeded++
      result.files.push({file: path, destination, outcome: 'archived'})
    } catch (error) {
      const reason = oneLine(error)
      summary.line(`Archiving failed: ${path}`)
      log.event('transfer.failed', {file: path, destination, error: reason}, 'error')
      await context.alert(`archiving ${path} failed: ${reason}`)
      result.failed++
      result.files.push({file: path, destination, outcome: 'failed', reason})
    }
  }
  if (due === 0 && result.failed === 0) summary.line('No plots to be archived.')
  return result
}
