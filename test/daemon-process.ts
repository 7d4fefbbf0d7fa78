// Test helper: `dataflow daemon` as a long-running child process, as systemd runs it. The child
// gets its own process group so that a "crash" can kill it together with its children (ssh
// masters, rsync), as systemd does with the unit's cgroup. Its JSON event lines (stdout) are
// parsed as they arrive, so tests wait for events instead of sleeping.
import {type ChildProcess, spawn} from 'node:child_process'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {cliArgv, REPO} from './helpers/cli.js'
import {eventually} from './helpers/wait.js'

export interface DaemonEvent {
  event?: string
  level?: string
  stage?: string
  [key: string]: unknown
}

export interface DaemonProcess {
  readonly name: string
  readonly pid: number
  readonly events: DaemonEvent[]
  /** Everything on stdout and stderr, for failure messages. */
  output(): string
  /** Resolves with the first event (seen so far or later) matching `match`. */
  waitFor(match: (event: DaemonEvent) => boolean, timeoutMs?: number, what?: string): Promise<DaemonEvent>
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  signal(signal: NodeJS.Signals): void
  /** SIGTERM; resolves with the exit. */
  stop(timeoutMs?: number): Promise<{code: number | null; signal: NodeJS.Signals | null}>
  /** SIGKILL to the whole process group (the daemon and everything it started); resolves when all of it is gone. */
  crash(): Promise<void>
}

const running = new Set<ChildProcess>()

/** SIGKILL to every daemon still running (and its children): for `after` hooks, so a failed test leaves nothing behind. */
export function killAllDaemons(): void {
  for (const child of running) {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // Gone.
    }
  }
}
process.once('exit', killAllDaemons)

export function spawnDaemon(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const [command, ...rest] = cliArgv(['daemon', ...args])
  const child = spawn(command!, rest, {
    cwd: REPO,
    // DATAFLOW_KEEP_TEST_DIRS is the test harness's, not a config key.
    env: {...process.env, DATAFLOW_KEEP_TEST_DIRS: undefined, DATAFLOW_CONFIG: '', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  running.add(child)
  const events: DaemonEvent[] = []
  const waiters: Array<{match: (e: DaemonEvent) => boolean; resolve: (e: DaemonEvent) => void}> = []
  let text = ''
  let partial = ''
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString()
    partial += chunk.toString()
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (!line.startsWith('{')) continue
      let event: DaemonEvent
      try {
        event = JSON.parse(line) as DaemonEvent
      } catch {
        continue
      }
      events.push(event)
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve(event)
        }
      }
    }
  })
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child)
      resolve({code, signal})
    })
  })
  const tail = () => text.split('\n').slice(-40).join('\n')
  return {
    name,
    pid: child.pid!,
    events,
    output: () => text,
    exited,
    waitFor(match, timeoutMs = 60_000, what = 'an event') {
      const seen = events.find(match)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no ${what} within ${timeoutMs} ms; output tail:\n${tail()}`)), timeoutMs)
        void exited.then(({code, signal}) => {
          clearTimeout(timer)
          reject(new Error(`${name} exited (${code ?? signal}) before ${what}; output tail:\n${tail()}`))
        })
        waiters.push({
          match,
          resolve: (event) => {
            clearTimeout(timer)
            resolve(event)
          },
        })
      })
    },
    signal(signal) {
      child.kill(signal)
    },
    async stop(timeoutMs = 30_000) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs)
      const result = await exited
      clearTimeout(timer)
      return result
    },
    async crash() {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // Already gone.
      }
      await exited
      // As systemd before it restarts a unit: every process of the old one has ended, not only the daemon.
      await eventually(() => groupMembers(child.pid!).length === 0, 10_000, () => `${name}: still running after SIGKILL: pids ${groupMembers(child.pid!).join(', ')}`)
    },
  }
}

/** Every regular file below `root`, as paths relative to it, sorted. */
export function treeFiles(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string, prefix: string) => {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      return
    }
    for (const name of names) {
      const path = join(dir, name)
      const rel = prefix ? `${prefix}/${name}` : name
      if (statSync(path).isDirectory()) walk(path, rel)
      else out.push(rel)
    }
  }
  walk(root, '')
  return out.sort()
}

/** The live processes of process group `pgid`, from /proc (zombies, which only wait to be reaped, do not count). */
function groupMembers(pgid: number): number[] {
  const members: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry))
    } catch {
      // The process ended while we looked.
    }
  }
  return members
}
