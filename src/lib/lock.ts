// One exclusive lock per (stage, radar). A second instance gets a LockedError naming the holder
// (pid, host, since when, command) instead of the original's silent `flock --nonblock` skip.
// The lock file is created with O_EXCL; a lock whose process is gone (same host) is stale and is
// taken over atomically (rename of a fresh lock file over it), so a crash never blocks forever.
import {hostname} from 'node:os'
import {mkdir, readFile, rename, unlink} from 'node:fs/promises'
import {join} from 'node:path'

import {LockedError} from './errors.js'
import {tempPathFor, writeFileAtomic} from './fs/atomic.js'

export interface LockInfo {
  pid: number
  host: string
  since: string
  command: string
}

export interface Lock {
  file: string
  release: () => Promise<void>
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readHolder(file: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockInfo
  } catch {
    return null
  }
}

export function lockFileFor(stateDir: string, stage: string, radar?: string): string {
  return join(stateDir, 'locks', `${stage}${radar ? `.${radar}` : ''}.lock`)
}

export async function acquireLock(stateDir: string, stage: string, radar?: string, command = process.argv.slice(1).join(' ')): Promise<Lock> {
  const file = lockFileFor(stateDir, stage, radar)
  await mkdir(join(stateDir, 'locks'), {recursive: true})
  const mine: LockInfo = {pid: process.pid, host: hostname(), since: new Date().toISOString(), command}
  const text = `${JSON.stringify(mine)}\n`
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await writeFileAtomic(file, text, {mode: 0o644})) return {file, release: () => releaseLock(file)}
    const holder = await readHolder(file)
    const stale = holder !== null && holder.host === mine.host && !alive(holder.pid)
    if (!stale && holder !== null) {
      throw new LockedError(
        `${stage}${radar ? ` for ${radar}` : ''} is already running (pid ${holder.pid} on ${holder.host} since ${holder.since}); lock ${file}`,
        file,
        holder,
      )
    }
    if (holder === null) {
      // Unreadable or half-written by a process that died between create and write: treat as stale
      // only once it is clearly abandoned; a live writer finishes within milliseconds.
      await new Promise((r) => setTimeout(r, 50))
      if ((await readHolder(file)) !== null) continue
    }
    const temp = tempPathFor(file)
    await writeFileAtomic(temp, text, {mode: 0o644})
    await rename(temp, file)
    const now = await readHolder(file)
    if (now?.pid === mine.pid && now.since === mine.since) return {file, release: () => releaseLock(file)}
  }
  const holder = (await readHolder(file)) ?? {}
  throw new LockedError(`${stage}: could not take the lock ${file}`, file, holder)
}

async function releaseLock(file: string): Promise<void> {
  const holder = await readHolder(file)
  if (holder?.pid === process.pid) await unlink(file).catch(() => undefined)
}
