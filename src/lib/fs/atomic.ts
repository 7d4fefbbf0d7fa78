// Durable file operations. The order is the contract: write to a temporary name in the target
// directory → fsync the file → rename (atomic on one file system) → fsync the directory, so a
// crash leaves either the old state or the complete new file, never a partial file under the
// final name. A move deletes its source only after the destination was re-read and its hash
// matched the source's.
import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {copyFile, link, mkdir, open, readdir, rename, stat, unlink} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {ConflictError, VerifyError} from '../errors.js'
import {type HashAlgorithm, hashFile} from '../hash.js'

export const TEMP_MARKER = '.dataflow-tmp-'

/** A temporary sibling name; hidden, and recognisable by cleanStaleTemps(). */
export function tempPathFor(target: string): string {
  // Cut long names, so that the temporary name fits in NAME_MAX (255 bytes) whenever the final one does.
  const name = Buffer.from(basename(target)).subarray(0, 200).toString().replace(/\uFFFD$/, '')
  return join(dirname(target), `.${name}${TEMP_MARKER}${randomBytes(6).toString('hex')}`)
}

/** fsync(2) of a file or a directory (a directory's fsync makes a rename or unlink in it durable). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}


async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

/**
 * Publishes a complete temporary file under its final name. Without `overwrite` this uses
 * link(2), which fails atomically when the target exists (returns false, the temp is removed).
 */
async function publish(temp: string, target: string, overwrite: boolean): Promise<boolean> {
  try {
    if (overwrite) {
      await rename(temp, target)
    } else {
      try {
        await link(temp, target)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
        throw error
      }
      await unlink(temp)
    }
  } finally {
    await unlink(temp).catch(() => undefined)
  }
  await fsyncPath(dirname(target))
  return true
}

/**
 * mkdir -p that names the real cause: Node's recursive mkdir reports ENOENT for a read-only or
 * unwritable parent; the first missing level is then made alone, which fails with EROFS/EACCES.
 */
export async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir, {recursive: true})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    let missing = dir
    while (dirname(missing) !== missing && !(await exists(dirname(missing)))) missing = dirname(missing)
    await mkdir(missing) // throws the cause (EROFS, EACCES…); if it works, the race is over
    await mkdir(dir, {recursive: true})
  }
}

export interface WriteOptions {
  mode?: number
  /** Replace an existing target (default false: return false and leave it alone). */
  overwrite?: boolean
}

/** Writes `data` durably. Returns false when the target exists and overwrite is off. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<boolean> {
  if (!options.overwrite && (await exists(target))) return false
  await makeDirectories(dirname(target))
  const temp = tempPathFor(target)
  const handle = await open(temp, 'wx', options.mode ?? 0o644)
  try {
    await handle.writeFile(data)
    if (options.mode !== undefined) await handle.chmod(options.mode)
    await handle.sync()
  } catch (error) {
    await handle.close()
    await unlink(temp).catch(() => undefined)
    throw error
  }
  await handle.close()
  return publish(temp, target, options.overwrite ?? false)
}

export interface CopyResult {
  /** Hash of the destination as re-read from disk after the rename. */
  hash: string
  /** Hash of the source, read before copying. */
  sourceHash: string
  /** 'copied', or 'identical' when the destination already held the same content. */
  outcome: 'copied' | 'identical'
}

export interface CopyOptions {
  algorithm: HashAlgorithm
  /** Mode of the copy; default: the source's permission bits (copyFile keeps them). */
  mode?: number
  /** Group id of the copy, set before the rename; default: the creating process's. */
  gid?: number
  /**
   * An existing target with different content: 'error' (default) raises ConflictError and leaves
   * it untouched; 'replace' renames the new, fsynced copy over it (atomic: readers see the old or
   * the new file, never a mix), then verifies it like any other copy.
   */
  onConflict?: 'error' | 'replace'
  signal?: AbortSignal
}

/**
 * Copies `source` to `target` durably and verifies the copy by re-reading it. An existing target
 * with the same content is accepted (idempotent, and fsynced so that "identical" is as durable as
 * "copied"); with different content see `onConflict`. The copy keeps the source's mtime.
 */
export async function copyFileVerified(source: string, target: string, options: CopyOptions): Promise<CopyResult> {
  const sourceHash = await hashFile(source, options.algorithm, options.signal)
  const replace = options.onConflict === 'replace'
  if (await exists(target)) {
    const targetHash = await hashFile(target, options.algorithm, options.signal)
    if (targetHash === sourceHash) {
      await fsyncPath(target)
      await fsyncPath(dirname(target))
      return {hash: targetHash, sourceHash, outcome: 'identical'}
    }
    if (!replace) throw new ConflictError(`${target}: exists with different content`, target, sourceHash, targetHash)
  }
  await makeDirectories(dirname(target))
  const temp = tempPathFor(target)
  try {
    const {atime, mtime} = await stat(source)
    await copyFile(source, temp, constants.COPYFILE_EXCL)
    const handle = await open(temp, 'r+')
    try {
      if (options.gid !== undefined) await handle.chown((await handle.stat()).uid, options.gid)
      // After chown, which clears set-id bits.
      if (options.mode !== undefined) await handle.chmod(options.mode)
      await handle.utimes(atime, mtime)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
  if (!(await publish(temp, target, replace))) {
    throw new ConflictError(`${target}: appeared while copying`, target, sourceHash, 'unknown')
  }
  const targetHash = await hashFile(target, options.algorithm, options.signal)
  if (targetHash !== sourceHash) {
    await unlink(target).catch(() => undefined)
    throw new VerifyError(`${target}: copy does not match its source`, target, sourceHash, targetHash)
  }
  return {hash: targetHash, sourceHash, outcome: 'copied'}
}

/** Removes temporary files left by an interrupted write that are older than `olderThanMs`. */
export async function cleanStaleTemps(dir: string, olderThanMs: number): Promise<string[]> {
  const removed: string[] = []
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return removed
  }
  const now = Date.now()
  for (const name of names) {
    if (!name.startsWith('.') || !name.includes(TEMP_MARKER)) continue
    const path = join(dir, name)
    const info = await stat(path).catch(() => null)
    if (info?.isFile() && now - info.mtimeMs > olderThanMs) {
      await unlink(path).catch(() => undefined)
      removed.push(path)
    }
  }
  return removed
}
