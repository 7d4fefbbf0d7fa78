// A stage subcommand as a child process in its own process group (as systemd runs it in its
// cgroup), so that a "crash" is SIGKILL to the whole group: the CLI and every rsync, ssh master
// and lbzip2 it started. Event lines (JSON, stdout or stderr) are parsed as they arrive, so the
// caller waits for `stage.start` instead of sleeping. killGroup() returns only once no live
// process of the group is left (read from /proc), so nothing of the killed run writes afterwards.
import {type ChildProcess, spawn} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'

import {cliArgv, REPO} from '../helpers/cli.js'

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** performance.now() at exit. */
  at: number
}

export interface StageRun {
  readonly pid: number
  /** performance.now() at spawn. */
  readonly spawnedAt: number
  /** performance.now() when the `stage.start` event arrived; null when the process exited first. */
  readonly started: Promise<number | null>
  readonly exited: Promise<Exit>
  readonly events: Array<Record<string, unknown>>
  stdout(): string
  stderr(): string
  /** Resolves with the first event (seen so far or later) matching `match`; null when the process exits first. */
  waitFor(match: (event: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | null>
  /** SIGKILL to the process group; resolves when no process of the group is alive. */
  killGroup(): Promise<void>
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv
  uid?: number
  gid?: number
  /** argv put before the CLI's own (e.g. `nsenter -t PID -m --` to run it in a mount namespace). */
  prefix?: readonly string[]
  /** SIGKILL after this long (a hung stage is a finding, not a hang of the suite). */
  timeoutMs?: number
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // Gone.
    }
  }
})

/** Live (non-zombie) processes whose process group is `pgid`. */
export function groupMembers(pgid: number): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue
    }
    // "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') found.push(Number(entry))
  }
  return found
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitGroupGone(pgid: number, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (groupMembers(pgid).length > 0) {
    if (performance.now() > deadline) throw new Error(`process group ${pgid} still alive ${timeoutMs} ms after SIGKILL: ${groupMembers(pgid).join(', ')}`)
    await tick(5)
  }
}

export function spawnStage(args: readonly string[], options: SpawnOptions = {}): StageRun {
  const [command, ...rest] = [...(options.prefix ?? []), ...cliArgv(args)]
  const spawnedAt = performance.now()
  const child = spawn(command!, rest, {
    cwd: REPO,
    env: {...process.env, DATAFLOW_CONFIG: '', DATAFLOW_KEEP_TEST_DIRS: undefined, ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    uid: options.uid,
    gid: options.gid,
  })
  live.add(child)
  const events: Array<Record<string, unknown>> = []
  const waiters: Array<{match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown> | null) => void}> = []
  let out = ''
  let err = ''
  let resolveStarted: (at: number | null) => void = () => undefined
  const started = new Promise<number | null>((resolve) => (resolveStarted = resolve))
  const parser = () => {
    let partial = ''
    return (chunk: Buffer) => {
      partial += chunk.toString()
      const lines = partial.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        if (!line.startsWith('{"level"')) continue
        try {
          const event = JSON.parse(line) as Record<string, unknown>
          events.push(event)
          if (event.event === 'stage.start') resolveStarted(performance.now())
          for (const waiter of [...waiters]) {
            if (waiter.match(event)) {
              waiters.splice(waiters.indexOf(waiter), 1)
              waiter.resolve(event)
            }
          }
        } catch {
          // Not an event line.
        }
      }
    }
  }
  const onOut = parser()
  const onErr = parser()
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    onOut(chunk)
  })
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString()
    onErr(chunk)
  })
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // Gone.
    }
  }, options.timeoutMs ?? 180_000)
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => {
      err += String(error)
      resolve({code: null, signal: null, at: performance.now()})
    })
    // 'close': stdout and stderr are drained too.
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      resolveStarted(null)
      for (const waiter of waiters.splice(0)) waiter.resolve(null)
      resolve({code, signal, at: performance.now()})
    })
  })
  return {
    pid: child.pid!,
    spawnedAt,
    started,
    exited,
    events,
    stdout: () => out,
    stderr: () => err,
    waitFor(match) {
      const seen = events.find(match)
      if (seen) return Promise.resolve(seen)
      if (live.has(child) === false) return Promise.resolve(null)
      return new Promise((resolve) => waiters.push({match, resolve}))
    },
    async killGroup() {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // The leader and the whole group are gone already.
      }
      await exited
      await waitGroupGone(child.pid!)
    },
  }
}

/** Runs a stage to completion; the group is waited for too (nothing of it writes afterwards). */
export async function runStageToEnd(args: readonly string[], options: SpawnOptions = {}): Promise<{exit: Exit; run: StageRun}> {
  const run = spawnStage(args, options)
  const exit = await run.exited
  await waitGroupGone(run.pid)
  return {exit, run}
}
