// A real OpenSSH server on 127.0.0.1 for integration tests: its own host key, a user key for the
// current user, key-only authentication, and a known_hosts file that pins the host key, so the
// product's ssh and rsync argv (StrictHostKeyChecking=yes, BatchMode=yes) run unchanged against it.
// A missing sshd, ssh or ssh-keygen is an error, never a skip (STYLE.md practice 8).
import {type ChildProcess, spawn} from 'node:child_process'
import {accessSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createConnection, createServer} from 'node:net'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import type {HostConfig} from '../../src/lib/config/schema.js'

export const SSHD_PATH = '/usr/sbin/sshd'
const READY_TIMEOUT_MS = 15_000
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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

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

export async function startSshd(dir?: string): Promise<SshdHandle> {
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
    writeFileSync(configFile, `${lines.join('\n')}\n`)
    writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPublic}\n`)

    const logFd = openSync(logFile, 'a')
    const child: ChildProcess = spawn(SSHD_PATH, ['-D', '-e', '-f', configFile], {stdio: ['ignore', 'ignore', logFd]})
    closeSync(logFd)
    // An object, so that TypeScript does not narrow it to null for good after this line.
    const state: {exited: {code: number | null; signal: NodeJS.Signals | null} | null} = {exited: null}
    const exitPromise = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        state.exited = {code, signal}
        resolve()
      })
      child.once('error', () => resolve())
    })
    // A crashed test process must not leave sshd behind.
    const killOnExit = () => child.kill('SIGKILL')
    process.once('exit', killOnExit)

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
    const stop = async () => {
      process.removeListener('exit', killOnExit)
      if (state.exited === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
        await exitPromise
        clearTimeout(timer)
      }
      if (ownsDir && !process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(base, {recursive: true, force: true})
    }

    // Ready means a real ssh login runs a command, not merely that the port accepts connections.
    const deadline = Date.now() + READY_TIMEOUT_MS
    let ready = false
    while (state.exited === null && Date.now() < deadline) {
      if (await canConnect(port)) {
        const probe = await runTool(sshArgv('true'), 10_000)
        if (probe.code === 0) {
          ready = true
          break
        }
        lastFailure = `ssh probe exit ${probe.code}: ${probe.stderr.trim()}`
      }
      await delay(50)
    }
    if (ready) return {host, dir: base, logFile, sshArgv, stop}
    const why =
      state.exited === null ? `not ready after ${READY_TIMEOUT_MS} ms (${lastFailure})` : `sshd exited (${JSON.stringify(state.exited)})`
    lastFailure = `${why}\n${logTail(logFile)}`
    process.removeListener('exit', killOnExit)
    if (state.exited === null) {
      child.kill('SIGKILL')
      await exitPromise
      // Still running but never usable: another port will not help.
      break
    }
    // sshd exited at startup, most likely because another process took the port: try another.
  }
  if (ownsDir && !process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(base, {recursive: true, force: true})
  throw new Error(`could not start sshd: ${lastFailure}`)
}
