// Waiting in tests: for a condition, never for a fixed time. `until` polls a check (sync or async)
// with a deadline; `eventually` is the same with a timeout that fails the test, saying what was
// awaited. A poll interval only paces the checks: nothing depends on how long it is.
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {TEMP_MARKER} from '../../src/lib/fs/atomic.js'

const POLL_MS = 100

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every `intervalMs` until it returns true (→ true) or `timeoutMs` pass (→ false). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = POLL_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await pause(intervalMs)
  }
}

/** Polls `check` until it returns true; rejects with `describe()` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string, intervalMs = POLL_MS): Promise<void> {
  if (!(await until(check, timeoutMs, intervalMs))) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`)
}

/**
 * True while a copy is arriving in `dir` (not below it): a temporary file (dataflow's temp name, or
 * rsync's own temp of it) whose name contains `name` already holds bytes. Files that are renamed
 * or removed while we look are skipped.
 */
export function bytesArriving(dir: string, name = ''): boolean {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return false
  }
  return names.some((n) => {
    if (!n.includes(TEMP_MARKER) || !n.includes(name)) return false
    try {
      return statSync(join(dir, n)).size > 0
    } catch {
      return false
    }
  })
}
