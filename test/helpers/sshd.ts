// A real OpenSSH server on 127.0.0.1 for integration tests: its own host key, a user key for the
// current user, key-only authentication, and a known_hosts file that pins the host key, so the
// product's ssh and rsync argv (StrictHostKeyChecking=yes, BatchMode=yes) run unchanged against it.
// A missing sshd, ssh or ssh-keygen is an error, never a skip.
import {type ChildProcess, spawn} from 'node:child_process'
import {accessSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createConnection, createServer} from 'node:net'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import type {HostConfig} from '../../src/lib/config/schema.js'
import {until} from './wait.js'

export const SSHD_PATH = '/usr/sbin/sshd'
// Generous: on a loaded 2-core machine a restart under retrying clients can take a while.
const READY_TIMEOUT_MS = 40_000
const PORT_ATTEMPTS = 5

export interface SshdHandle {
  /** Connection settings in the shape of HostSchema (hosts.* in the config). */
  host: HostConfig
  /** The temporary directory holding keys, config and log. */
  dir: string
  /** sshd's own log (-e writes it to stderr, which goes here). */
  logFile: string
  /**
   * argv for `ssh` to this server. The command words are passed as they are: ssh joins them with
   * spaces into one string for the remote shell, so quote them yourself when that matters.
   */
  sshArgv: (...command: string[]) => string[]
  /** Stops sshd and waits for it to exit; removes the directory when startSshd created it. */
  stop: () => Promise<void>
  /**
   * Kills sshd the hard way, like a crashed host or a cut cable: SIGKILL to the listener AND to every
   * process it started (the per-connection sshd children and their rsync/sh), so open connections
   * drop at once. The directory, keys and port stay for restart().
   */
  kill: () => Promise<void>
  /** Starts sshd again on the same port with the same host key and config; waits until a login works. */
  restart: () => Promise<void>
  /**
   * How many ssh connections authenticated so far: the "Accepted publickey" lines in the log
   * (LogLevel VERBOSE). The helper's own readiness probes count too: compare before and after.
   */
  acceptedConnections: () => number
}

export interface SshdOptions {
  /** Extra sshd_config lines (e.g. `SetEnv PATH=…` to put a fault-injecting tool first on PATH). */
  extraConfig?: readonly string[]
}

interface Done {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs a short helper program to completion; ENOENT becomes a clear "is it installed" error. */
function runTool(argv: readonly string[], timeoutMs = 20_000): Promise<Done> {
  const [command, ...args] = argv as [string, ...string[]]
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(
        error.code === 'ENOENT'
          ? new Error(`${command} is not installed (needed by the sshd integration tests; install openssh-client/openssh-server)`)
          : error,
      )
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
  })
}

/** A port that was free a moment ago (bind port 0, read it, close). sshd may still lose a race for it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('could not read a free port'))))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Whether 127.0.0.1:`port` can be bound right now (nothing listens on it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')
  } catch {
    return '(no log)'
  }
}

function opensshVersion(sshVersionOutput: string): number {
  const match = /OpenSSH_(\d+)\.(\d+)/.exec(sshVersionOutput)
  return match ? Number(match[1]) + Number(match[2]) / 100 : 0
}

interface Server {
  state: {exited: {code: number | null; signal: NodeJS.Signals | null} | null}
  /** Signals the listener and every process below it, then waits for the listener to exit. */
  terminate: (signal: NodeJS.Signals) => Promise<void>
}

/** The pids of every process below `root` (children, grandchildren…), read from /proc. */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parentOf.set(Number(entry), ppid)
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(pid)
        queue.push(pid)
      }
    }
  }
  return found
}

function spawnServer(configFile: string, logFile: string): Server {
  const logFd = openSync(logFile, 'a')
  const child: ChildProcess = spawn(SSHD_PATH, ['-D', '-e', '-f', configFile], {stdio: ['ignore', 'ignore', logFd]})
  closeSync(logFd)
  // An object, so that TypeScript does not narrow it to null for good after this line.
  const state: Server['state'] = {exited: null}
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exited = {code, signal}
      resolve()
    })
    child.once('error', () => resolve())
  })
  // A crashed test process must not leave sshd (or its sessions) behind.
  const killAll = () => {
    if (child.pid === undefined) return
    for (const pid of [child.pid, ...descendants(child.pid)]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }
  process.once('exit', killAll)
  const terminate = async (signal: NodeJS.Signals) => {
    process.removeListener('exit', killAll)
    if (state.exited === null && child.pid !== undefined) {
      // Sessions are children of the listener; collect them before it dies and they are re-parented.
      const sessions = descendants(child.pid)
      child.kill(signal)
      for (const pid of sessions) {
        try {
          process.kill(pid, signal)
        } catch {
          // Already gone.
        }
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exitPromise
      clearTimeout(timer)
    }
  }
  return {state, terminate}
}

export async function startSshd(dir?: string, options: SshdOptions = {}): Promise<SshdHandle> {
  try {
    accessSync(SSHD_PATH, constants.X_OK)
  } catch {
    throw new Error(`${SSHD_PATH} is missing or not executable (install openssh-server): the sshd integration tests need it`)
  }
  const version = await runTool(['ssh', '-V'])
  const ownsDir = dir === undefined
  const base = dir ?? mkdtempSync(join(tmpdir(), 'dataflow-sshd-'))
  mkdirSync(base, {recursive: true})
  const user = userInfo().username
  const hostKey = join(base, 'ssh_host_ed25519_key')
  const identityFile = join(base, 'id_ed25519')
  const knownHostsFile = join(base, 'known_hosts')
  const authorizedKeys = join(base, 'authorized_keys')
  const configFile = join(base, 'sshd_config')
  const pidFile = join(base, 'sshd.pid')
  const logFile = join(base, 'sshd.log')

  for (const [file, comment] of [
    [hostKey, 'dataflow-test-host'],
    [identityFile, 'dataflow-test-user'],
  ] as const) {
    const keygen = await runTool(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file])
    if (keygen.code !== 0) throw new Error(`ssh-keygen failed (${keygen.code}): ${keygen.stderr.trim()}`)
  }
  writeFileSync(authorizedKeys, readFileSync(`${identityFile}.pub`))
  const hostPublic = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')

  // As root, sshd insists on its privilege-separation directory.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', {recursive: true, mode: 0o755})

  let lastFailure = ''
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = await freePort()
    const lines = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `AllowUsers ${user}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // Temporary directories are not owned the way StrictModes wants.
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'UseDNS no',
      'PrintMotd no',
      'LogLevel VERBOSE',
      // Tests open many connections at once; the defaults (10:30:100) would drop some.
      'MaxStartups 200',
      'MaxSessions 100',
      'Subsystem sftp internal-sftp',
    ]
    // OpenSSH 9.8+ penalises sources that fail authentication; tests fail on purpose.
    if (opensshVersion(version.stderr) >= 9.08) lines.push('PerSourcePenalties no')
    lines.push(...(options.extraConfig ?? []))
    // Sessions get an empty HOME unless the caller sets its own: the machine's ~/.bashrc must not
    // run in test sessions (here it runs `pyenv init`, whose rehash lock, left behind by a session
    // killed mid-run in a fault test, made every later login hang).
    if (!(options.extraConfig ?? []).some((line) => /^SetEnv\b/.test(line))) {
      const sessionHome = join(base, 'session-home')
      mkdirSync(sessionHome, {recursive: true})
      lines.push(`SetEnv HOME=${sessionHome}`)
    }
    writeFileSync(configFile, `${lines.join('\n')}\n`)
    writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPublic}\n`)

    const host: HostConfig = {target: `${user}@127.0.0.1`, port, identityFile, knownHostsFile, bandwidthLimitKBps: 0}
    const sshArgv = (...command: string[]) => [
      'ssh',
      '-p', String(port),
      '-i', identityFile,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHostsFile}`,
      '-o', 'ConnectTimeout=5',
      '--', host.target,
      ...command,
    ]
    const launch = async (): Promise<{server: Server; failure: string}> => {
      const server = spawnServer(configFile, logFile)
      // Ready means a real ssh login runs a command, not merely that the port accepts connections.
      let ready = false
      let failure = ''
      const settled = async () => {
        if (server.state.exited !== null) return true
        if (!(await canConnect(port))) return false
        const probe = await runTool(sshArgv('true'), 10_000)
        ready = probe.code === 0
        if (!ready) failure = `ssh probe exit ${probe.code}: ${probe.stderr.trim()}`
        return ready
      }
      await until(settled, READY_TIMEOUT_MS, 50)
      if (ready) return {server, failure: ''}
      const why =
        server.state.exited === null ? `not ready after ${READY_TIMEOUT_MS} ms (${failure})` : `sshd exited (${JSON.stringify(server.state.exited)})`
      return {server, failure: `${why}\n${logTail(logFile)}`}
    }

    const first = await launch()
    if (first.failure === '') {
      let current: Server | null = first.server
      const stop = async () => {
        if (current) await current.terminate('SIGTERM')
        current = null
        if (ownsDir && !process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(base, {recursive: true, force: true})
      }
      const kill = async () => {
        if (current) await current.terminate('SIGKILL')
        current = null
      }
      const restart = async () => {
        if (current) await current.terminate('SIGTERM')
        current = null
        // The port was ours a moment ago; the kernel may hold it briefly, so retry once it is free.
        let failure = ''
        for (let attempt = 1; attempt <= 20; attempt++) {
          const next = await launch()
          if (next.failure === '') {
            current = next.server
            return
          }
          failure = next.failure
          const exited = next.server.state.exited !== null
          await next.server.terminate('SIGKILL')
          // Running but never usable: trying again will not help.
          if (!exited) break
          // sshd exited at start, most likely as the port was still held: again once it can be bound.
          if (!(await until(() => portFree(port), 5_000))) break
        }
        throw new Error(`could not restart sshd on port ${port}: ${failure}`)
      }
      const acceptedConnections = () => {
        try {
          return readFileSync(logFile, 'utf8').split('\n').filter((line) => line.includes('Accepted publickey')).length
        } catch {
          return 0
        }
      }
      return {host, dir: base, logFile, sshArgv, stop, kill, restart, acceptedConnections}
    }
    lastFailure = first.failure
    if (first.server.state.exited === null) {
      await first.server.terminate('SIGKILL')
      // Still running but never usable: another port will not help.
      break
    }
    await first.server.terminate('SIGKILL')
    // sshd exited at startup, most likely because another process took the port: try another.
  }
  if (ownsDir && !process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(base, {recursive: true, force: true})
  throw new Error(`could not start sshd: ${lastFailure}`)
}
