// The one quarantine: a file a stage cannot handle (damaged, misnamed, failed verification twice)
// is moved — with the verified move, never a plain rename that could lose it — into the stage's
// quarantine directory, with `<name>.reason` beside it saying when and why, one alert, and one
// event per file. A file that cannot be moved stays where it is and the alert says so: a
// quarantine never deletes anything that is not safely copied.
import {lstat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {ConflictError, oneLine} from '../errors.js'
import {writeFileAtomic} from '../fs/atomic.js'
import {LocalTransport, moveVerified} from '../transport/index.js'
import type {StageContext} from './runner.js'

export interface QuarantineResult {
  /** Where the files went. */
  moved: string[]
  /** Files that could not be moved and are still in place. */
  kept: string[]
}

const stamp = (time: Date) => time.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')

/**
 * Moves `paths` (a file and, e.g., its partner or what was made from it) into `directory`.
 * Paths that do not exist are skipped (a product that was never made). A different file of the
 * same name already in quarantine is kept: the newcomer gets a `.<UTC time>` suffix.
 */
export async function quarantine(
  context: StageContext,
  paths: readonly string[],
  directory: string,
  reason: string,
  /** The alert's first words (the stage's phrase, e.g. `File failed to convert to dmap: <path>`). */
  headline = `${paths[0]}`,
): Promise<QuarantineResult> {
  const {log, now} = context
  const transport = new LocalTransport()
  const result: QuarantineResult = {moved: [], kept: []}
  for (const path of paths) {
    const exists = await lstat(path).then(
      (info) => info.isFile(),
      () => false,
    )
    if (!exists) {
      log.event('file.skipped', {file: path, reason: 'not there to quarantine (never made, or already moved)'}, 'debug')
      continue
    }
    const options = {algorithm: context.hashAlgorithm, retry: {...context.retry, attempts: 1}, signal: context.signal}
    let target = join(directory, basename(path))
    try {
      try {
        await moveVerified(transport, path, target, options)
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error
        target = `${target}.${stamp(now())}`
        await moveVerified(transport, path, target, options)
      }
      await writeFileAtomic(`${target}.reason`, `${now().toISOString()} ${reason}\n`, {overwrite: true, mode: 0o644})
      log.event('file.quarantined', {file: path, quarantine: target, reason}, 'error')
      result.moved.push(target)
    } catch (error) {
      result.kept.push(path)
      log.event('file.kept', {file: path, error: `could not quarantine in ${directory}, kept in place: ${oneLine(error)}`}, 'error')
    }
  }
  if (result.moved.length + result.kept.length > 0) {
    await context.alert(
      result.kept.length === 0
        ? `${headline}: ${reason} (quarantined in ${directory})`
        : `${headline}: ${reason} (${result.kept.join(', ')} could not be quarantined in ${directory} and stay${result.kept.length === 1 ? 's' : ''} in place)`,
    )
  }
  return result
}
