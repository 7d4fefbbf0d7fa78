// Stage convert-on-campus (campus host, per radar): converts every Borealis rawacf HDF5 file
// directly in the radar's holding directory to DMAP (.rawacf.bz2), moves the DMAP file and the
// HDF5 file to the radar's data directory, and moves DMAP files that arrived already converted on
// site through to the data directory as well.
//
// What the original got wrong: its converter rejected every rawacf file, so everything went to
// conversion_failure; a failed move was reported as a success with the DMAP left behind; its
// `mv` could overwrite. Here every move is the verified move, and a file is reported moved only
// when it was.
//
// Per HDF5 file: converted → both files in the data directory, summary `Successfully converted:
// <holding path>`. A file that cannot be converted (misnamed, damaged, not a rawacf file) goes to
// the conversion failure directory (with a DMAP made from it, if any) with `<name>.reason`, one
// alert, and the original's summary line `File failed to convert to dmap: <holding path>`
// followed by `File failed to convert: <holding path>`: the telemetry parser counts only lines
// that START WITH `File failed to convert:`, so the original phrase alone left conversion
// failures invisible on the dashboard. A move that fails (full or read-only data directory) keeps
// both files in the holding directory for the next run. A stop request aborts the conversion in
// flight; it is not a failure of the file and sends no alert.
import {basename, join} from 'node:path'

import {EXIT, exitCodeOf, oneLine} from '../errors.js'
import {convertRawacfFile, dmapOutputPath} from '../formats/convert/file.js'
import {parseBorealisName, parseDmapName} from '../formats/names.js'
import {filesIn} from '../fs/list.js'
import {LocalTransport} from '../transport/local.js'
import {moveVerified} from '../transport/verified-move.js'
import type {StageContext} from './runner.js'
import {type FileRecord, forEachFile, Rejected} from './skeleton.js'

/** Everything convert-on-campus needs, resolved by the role layout. */
export interface ConvertOnCampusLayout {
  holding: string
  data: string
  /** The conversion failure directory: the campus quarantine. */
  failure: string
}

export interface CampusFileOutcome extends FileRecord {
  kind: 'hdf5' | 'dmap'
  destinations: string[]
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

/** A failure of the move after a good conversion: not the file's fault, so it stays for the next run. */
class MoveFailed extends Error {}

export async function convertOnCampus(context: StageContext, layout: ConvertOnCampusLayout): Promise<ConvertOnCampusResult> {
  const {dryRun, summary, log, signal} = context
  const {holding, data, failure} = layout
  const transport = new LocalTransport()
  const move = async (file: string, options: {replace: boolean}) => {
    const target = join(data, basename(file))
    try {
      const moved = await moveVerified(transport, file, target, {algorithm: context.hashAlgorithm, retry: context.retry, signal, resendOnConflict: options.replace})
      log.event('transfer.verified', {file, destination: target, hash: moved.hash, outcome: moved.outcome})
    } catch (error) {
      throw new MoveFailed(`could not move ${file} to ${data}: ${oneLine(error)}`, {cause: error})
    }
    return target
  }

  const hdf5Files = await filesIn(holding, (n) => n.endsWith('.rawacf.h5'))
  if (hdf5Files.length === 0) summary.line('No files to be converted.')
  const converted = await forEachFile(context, hdf5Files, {
    quarantineDirectory: failure,
    path: (path) => path,
    onFailure: (path, error) => {
      if (error instanceof MoveFailed) return {summary: [`Failed to move converted files: ${path}`], quarantine: 'keep'}
      // The file system refused (full, read-only, permissions): not the file's fault, so not quarantined.
      if (exitCodeOf(error) === EXIT.STORAGE) return {summary: [`File failed to convert: ${path}`], quarantine: 'keep'}
      // The HDF5 file and whatever was made from it (a misnamed file has no DMAP name).
      const made = error instanceof Rejected ? [] : [dmapOutputPath(path)]
      return {summary: [`File failed to convert to dmap: ${path}`, `File failed to convert: ${path}`], quarantine: [path, ...made]}
    },
    handle: async (path): Promise<CampusFileOutcome> => {
      let dmap: string
      try {
        parseBorealisName(path)
        dmap = dmapOutputPath(path)
      } catch (error) {
        throw new Rejected(oneLine(error))
      }
      if (dryRun) return {source: path, kind: 'hdf5', outcome: 'planned', destinations: [join(data, basename(dmap)), join(data, basename(path))]}
      // The converter writes `combf` with the path as given: the absolute holding path, as the
      // original did. A DMAP already here is ours from an interrupted run: made again.
      const result = await convertRawacfFile(path, {signal, overwrite: true})
      // Converted output may replace an earlier conversion of the same file in the data directory.
      const destinations = [await move(result.output, {replace: true}), await move(path, {replace: false})]
      summary.line(`Successfully converted: ${path}`)
      return {source: path, kind: 'hdf5', outcome: 'converted', destinations, dmapRecords: result.dmapRecords}
    },
  })

  const dmapFiles = await filesIn(holding, (n) => n.endsWith('.rawacf.bz2'))
  if (dmapFiles.length === 0) summary.line('No dmap files to be moved.')
  const moved = await forEachFile(context, dmapFiles, {
    quarantineDirectory: failure,
    path: (path) => path,
    onFailure: (path, error) => ({
      summary: [`Failed to move dmap file: ${path}`],
      quarantine: error instanceof Rejected ? [path] : 'keep',
    }),
    handle: async (path): Promise<CampusFileOutcome> => {
      try {
        parseDmapName(path)
      } catch (error) {
        throw new Rejected(oneLine(error))
      }
      const target = join(data, basename(path))
      if (dryRun) return {source: path, kind: 'dmap', outcome: 'planned', destinations: [target]}
      return {source: path, kind: 'dmap', outcome: 'moved', destinations: [await move(path, {replace: false})]}
    },
  })
  return {
    succeeded: converted.succeeded + moved.succeeded,
    failed: converted.failed + moved.failed,
    holdingDirectory: holding,
    dataDirectory: data,
    failureDirectory: failure,
    files: [...converted.files, ...moved.files] as CampusFileOutcome[],
  }
}
