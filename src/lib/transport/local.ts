// The Transport contract (./types.ts) for a destination on this host: the same machine or a
// mounted NAS (NFS/CIFS). The durable, verified copy itself lives in src/lib/fs/atomic.ts
// (temp name → fsync → link/rename → fsync dir → re-read hash); this adapter adds the contract's
// error classes. A mount that stopped answering (NFS timeouts, stale handles) is transient, like an
// unreachable ssh host; permissions, a full disk or a bad path are permanent (Node's own errors,
// whose message is one line: "EACCES: permission denied, open '…'").
import {stat, unlink} from 'node:fs/promises'
import {dirname, isAbsolute, resolve} from 'node:path'

import {BugError, ConfigError, UnreachableError} from '../errors.js'
import {run} from '../exec.js'
import {copyFileVerified, fsyncPath, makeDirectories} from '../fs/atomic.js'
import {type HashAlgorithm, hashFile} from '../hash.js'
import type {PutOptions, PutResult, Transport} from './types.js'

/** errno codes of a mount that went away; a retry a little later may find it back. */
const TRANSIENT_ERRNO = new Set(['ESTALE', 'ETIMEDOUT', 'EHOSTDOWN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN', 'ECONNRESET'])

function classify(error: unknown, destPath: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code !== undefined && TRANSIENT_ERRNO.has(code)) {
    return new UnreachableError(`${destPath}: destination file system not answering (${code})`, {cause: error})
  }
  return error
}

function checkDest(destPath: string): void {
  if (!isAbsolute(destPath)) throw new BugError(`LocalTransport: destination "${destPath}" must be absolute`)
}

const groupIds = new Map<string, number>()

/** The numeric id of a group name, as the system's name service knows it (getent: files, LDAP…). */
async function groupId(group: string, signal?: AbortSignal): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group)
  const known = groupIds.get(group)
  if (known !== undefined) return known
  const result = await run(['getent', 'group', '--', group], {timeoutMs: 30_000, signal, okCodes: [0, 2]})
  const gid = Number(result.stdout.split(':')[2])
  if (result.code === 2 || !Number.isInteger(gid)) throw new ConfigError(`group "${group}" does not exist on this host (getent group)`)
  groupIds.set(group, gid)
  return gid
}

export class LocalTransport implements Transport {
  readonly kind = 'local'

  describe(destPath: string): string {
    return destPath
  }

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async put(localPath: string, destPath: string, options: PutOptions): Promise<PutResult> {
    checkDest(destPath)
    try {
      const source = resolve(localPath)
      const {size: bytes} = await stat(source)
      const copy = await copyFileVerified(source, destPath, {
        algorithm: options.algorithm,
        mode: options.mode,
        gid: options.group === undefined ? undefined : await groupId(options.group, options.signal),
        onConflict: options.onConflict,
        signal: options.signal,
      })
      return {outcome: copy.outcome, hash: copy.hash, sourceHash: copy.sourceHash, bytes}
    } catch (error) {
      throw classify(error, destPath)
    }
  }

  async hash(destPath: string, algorithm: HashAlgorithm, signal?: AbortSignal): Promise<string | null> {
    checkDest(destPath)
    try {
      return await hashFile(destPath, algorithm, signal)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw classify(error, destPath)
    }
  }

  async isDirectory(destDir: string): Promise<boolean> {
    checkDest(destDir)
    try {
      return (await stat(destDir)).isDirectory()
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return false
      throw classify(error, destDir)
    }
  }

  async mkdir(destDir: string): Promise<void> {
    checkDest(destDir)
    try {
      await makeDirectories(destDir)
    } catch (error) {
      throw classify(error, destDir)
    }
  }

  async remove(destPath: string): Promise<void> {
    checkDest(destPath)
    try {
      await unlink(destPath)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw classify(error, destPath)
    }
    await fsyncPath(dirname(destPath)).catch((error: unknown) => {
      throw classify(error, destPath)
    })
  }
}
