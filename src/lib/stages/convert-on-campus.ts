// Stage convert-on-campus (campus host, per radar):
// converts every Borealis rawacf HDF5 file directly in the radar's holding directory to DMAP
// (.rawacf.bz2), moves the DMAP file and the HDF5 file to the radar's data directory, and moves
// DMAP files that arrived already converted on site through to the data directory as well.
//
// Fixed defects of the original: it converts (the original's converter rejected every rawacf
// file, so everything went to conversion_failure); a failed move is a failure, never reported as
// a success with the DMAP left behind; every move is the verified local move (copy, fsync,
// rename, re-read and compare, then delete the source), never a plain `mv` that may overwrite
// (docs/design.md#converter-rejects-rawacf, #convert-move-unchecked).
//
// Per HDF5 file: converted → both files in the data directory, summary `Successfully converted:
// <holding path>`. Any failure → the HDF5 file (and a DMAP made from it, if any) moved to the
// conversion failure directory with `<name>.reason`, one alert, and the original's summary line
// `File failed to convert to dmap: <holding path>` followed by `File failed to convert: <holding
// path>`: the telemetry parser (parse_dataflow_log.py) counts only lines that START WITH
// `File failed to convert:`, so the original phrase alone left conversion failures invisible on
// the dashboard (docs/design.md#conversion-failures-invisible). The second line is the one it
// counts; the first keeps operators' greps and the familiar wording.
import {readdir} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {resolvePath} from '../config/index.js'
import {InterruptedError, oneLine} from '../errors.js'
import {convertRawacfFile, dmapOutputPath} from '../formats/convert/file.js'
import {moveFileVerified, writeFileAtomic} from '../fs/atomic.js'
import type {StageContext} from './runner.js'

export interface CampusFileOutcome {
  /** The file as found in the holding directory. */
  source: string
  kind: 'hdf5' | 'dmap'
  outcome: 'converted' | 'moved' | 'failed' | 'planned'
  /** Where the file(s) went (data directory, or the failure directory). */
  destinations: string[]
  reason?: string
  /** DMAP records written, for converted files. */
  dmapRecords?: number
}

export interface ConvertOnCampusResult {
  succeeded: number
  failed: number
  holdingDirectory: string
  dataDirectory: string
  failureDirectory: string
  files: CampusFileOutcome[]
}

/** Regular, visible files directly in `dir` (depth 1, as `find -maxdepth 1`), sorted, whose name matches. */
async function listFiles(dir: string, pattern: RegExp): Promise<string[]> {
  const entries = await readdir(dir, {withFileTypes: true})
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && pattern.test(e.name))
    .map((e) => join(dir, e.name))
    .sort()
}

const HDF5_RAWACF = /\.rawacf\.h5$/
const DMAP_RAWACF = /\.rawacf\.bz2$/

export async function convertOnCampus(context: StageContext): Promise<ConvertOnCampusResult> {
  const {config, radar, dryRun, summary, log, signal} = context
  const home = process.env.HOME
  const holding = resolvePath(config.campus.holdingDirectory, {radar, home})
  const data = resolvePath(config.campus.dataDirectory, {radar, home})
  const failure = resolvePath(config.campus.conversionFailureDirectory, {radar, home})
  const result: ConvertOnCampusResult = {succeeded: 0, failed: 0, holdingDirectory: holding, dataDirectory: data, failureDirectory: failure, files: []}
  const count = (outcome: CampusFileOutcome) => {
    result.files.push(outcome)
    if (outcome.outcome === 'converted' || outcome.outcome === 'moved') result.succeeded++
    else if (outcome.outcome === 'failed') result.failed++
  }

  const hdf5Files = await listFiles(holding, HDF5_RAWACF)
  if (hdf5Files.length === 0) summary.line('No files to be converted.')
  for (const path of hdf5Files) {
    if (signal.aborted) throw new InterruptedError('convert-on-campus interrupted')
    count(await convertOne(context, path, {data, failure}))
  }

  const dmapFiles = await listFiles(holding, DMAP_RAWACF)
  if (dmapFiles.length === 0) summary.line('No dmap files to be moved.')
  for (const path of dmapFiles) {
    if (signal.aborted) throw new InterruptedError('convert-on-campus interrupted')
    const target = join(data, basename(path))
    log.event('file.detected', {file: path, kind: 'dmap'})
    if (dryRun) {
      count({source: path, kind: 'dmap', outcome: 'planned', destinations: [target]})
      continue
    }
    try {
      const moved = await moveFileVerified(path, target, {algorithm: config.hashAlgorithm, signal})
      log.event('transfer.verified', {file: path, destination: target, hash: moved.hash, outcome: moved.outcome})
      count({source: path, kind: 'dmap', outcome: 'moved', destinations: [target]})
    } catch (error) {
      if (error instanceof InterruptedError) throw error
      const reason = oneLine(error)
      log.event('transfer.failed', {file: path, destination: target, error: reason}, 'error')
      summary.line(`Failed to move dmap file: ${path}`)
      count({source: path, kind: 'dmap', outcome: 'failed', destinations: [], reason})
    }
  }
  return result
}

async function convertOne(context: StageContext, path: string, where: {data: string; failure: string}): Promise<CampusFileOutcome> {
  const {config, dryRun, summary, log, signal} = context
  const algorithm = config.hashAlgorithm
  log.event('file.detected', {file: path, kind: 'hdf5'})
  let produced: string | null = null
  try {
    const dmap = dmapOutputPath(path)
    if (dryRun) return {source: path, kind: 'hdf5', outcome: 'planned', destinations: [join(where.data, basename(dmap)), join(where.data, basename(path))]}
    // The converter writes `combf` with the path as given: the absolute holding path, as the original did.
    const converted = await convertRawacfFile(path, {signal})
    produced = converted.output
    const destinations: string[] = []
    for (const file of [converted.output, path]) {
      const target = join(where.data, basename(file))
      const moved = await moveFileVerified(file, target, {algorithm, signal})
      log.event('transfer.verified', {file, destination: target, hash: moved.hash, outcome: moved.outcome})
      destinations.push(target)
    }
    summary.line(`Successfully converted: ${path}`)
    return {source: path, kind: 'hdf5', outcome: 'converted', destinations, dmapRecords: converted.dmapRecords}
  } catch (error) {
    if (error instanceof InterruptedError) throw error
    if (dryRun) return {source: path, kind: 'hdf5', outcome: 'planned', destinations: [join(where.failure, basename(path))], reason: oneLine(error)}
    const reason = oneLine(error)
    log.event('file.failed', {file: path, error: reason}, 'error')
    summary.line(`File failed to convert to dmap: ${path}`)
    summary.line(`File failed to convert: ${path}`)
    const destinations = await quarantine(context, [path, ...(produced ? [produced] : [])], where.failure, reason)
    await context.alert(`File failed to convert to dmap: ${path}: ${reason}`)
    return {source: path, kind: 'hdf5', outcome: 'failed', destinations, reason}
  }
}

/** Moves what exists of `paths` to the failure directory, each with a `<name>.reason` file. */
async function quarantine(context: StageContext, paths: readonly string[], dir: string, reason: string): Promise<string[]> {
  const {config, log, signal, now} = context
  const moved: string[] = []
  for (const path of paths) {
    const target = join(dir, basename(path))
    try {
      await moveFileVerified(path, target, {algorithm: config.hashAlgorithm, signal})
      await writeFileAtomic(`${target}.reason`, `${now().toISOString()} ${reason}\n`, {overwrite: true})
      log.event('file.quarantined', {file: path, quarantine: target, reason}, 'error')
      moved.push(target)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue // e.g. no DMAP was made
      log.event('file.failed', {file: path, error: `could not move to ${dir}: ${oneLine(error)}`}, 'error')
    }
  }
  return moved
}
