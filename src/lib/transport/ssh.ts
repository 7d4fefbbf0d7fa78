// The Transport contract (./types.ts) over ssh: rsync for the bytes, a fixed sh script for the
// durable publish and the re-read hash, all through ONE multiplexed connection per run.
//
// Why one connection: campus's firewall blocks a source after ~50 connections a minute, and the
// original opened an ssh and an rsync connection per file whenever its master was missing
// (docs/design.md#connection-check-never-fails).
// Here open() starts `ssh -M -N` as a managed child process (no -f: dataflow owns it, closes it
// and kills it if needed) and every later ssh/rsync rides it with ControlMaster=no. Those clients
// also get ProxyCommand=false: if the master is gone, ssh would otherwise quietly open a fresh
// connection of its own; with it, the client fails at once with 255 (transient) and the next
// attempt re-opens the master, so the number of connections stays bounded by the retry policy.
//
// Remote commands: ssh hands the remote login shell ONE string. Every remote command here is
// `sh -c '<fixed script>' sh <arg>…` with each word quoted by shellQuote(); file names only ever
// arrive as positional parameters ("$2"), never inside the script text, so no name is parsed as
// shell code. rsync gets --protect-args, so it sends the remote path inside its protocol.
//
// Remote requirements: a POSIX sh, GNU coreutils >= 8.24 (`sync -- FILE`, `ln -T`, `mv -T`,
// md5sum/sha256sum) and rsync >= 3.2.4 (--fsync) — Linux hosts all.
import {mkdir, mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, posix, resolve} from 'node:path'

import type {HostConfig} from '../config/schema.js'
import {BugError, ConfigError, ConflictError, ExternalToolError, InterruptedError, UnreachableError, VerifyError} from '../errors.js'
import {causeLine, run, sleep} from '../exec.js'
import {tempPathFor} from '../fs/atomic.js'
import {HASH_TOOLS, type HashAlgorithm, hashFile, parseHashLine} from '../hash.js'
import {remotePath, RSYNC_RUN_CODES, shellQuote, SSH_FAILURE_CODE, SSH_RUN_CODES, type SshHost, sshOptions} from './ssh-args.js'
import type {PutOptions, PutResult, Transport} from './types.js'

export interface SshTransportOptions {
  /** ssh ConnectTimeout; also bounds how long open() waits for the master connection. */
  connectTimeoutSeconds: number
  /** rsync --timeout: a transfer that moves no data for this long is abandoned (transient). */
  ioTimeoutSeconds: number
  /** Upper bound for any single rsync or remote command (a hash of a large file included). */
  commandTimeoutSeconds: number
  /** Where the private control-socket directory is created (mode 0700); e.g. <state>/ssh. */
  controlDir: string
  /** rsync --bwlimit in KiB/s; 0 or absent: unlimited. */
  bandwidthLimitKBps?: number
  /** Where this host sits in the configuration (e.g. `hosts.siteLinux`), for error messages. */
  configKey?: string
}

// ---------------------------------------------------------------------------------------------
// Remote scripts. Fixed text; arguments arrive as "$1", "$2"…; the exit codes below are the
// protocol between the scripts and put()/hash(). They avoid 1 (md5sum/ln/… failures), 126/127
// (command not executable / missing) and 255 (ssh's own failure).
// ---------------------------------------------------------------------------------------------

/** The destination exists and was not replaced; stdout holds its hash. */
const EXIT_EXISTS = 65
/** The destination does not exist. */
const EXIT_MISSING = 66

/** Remote exit codes of our scripts → the reason, for one-line error messages. */
const SCRIPT_FAILURES: Readonly<Record<number, string>> = {
  70: 'cannot create the destination directory',
  71: 'cannot fsync the temporary copy',
  72: 'cannot publish the copy under its final name',
  74: 'cannot fsync the destination directory (copy removed)',
  75: 'cannot read the existing destination file',
  76: 'cannot re-read the published copy (copy removed)',
}

/**
 * $1 hash tool, $2 directory, $3 final path. Creates the directory; when the final file exists,
 * fsyncs it and its directory (so an 'identical' answer is as durable as a fresh copy) and prints
 * its hash; else exits EXIT_MISSING.
 */
const PREPARE_SCRIPT = `mkdir -p -- "$2" || exit 70
if [ -e "$3" ] || [ -L "$3" ]; then
  sync -- "$3" "$2" || exit 75
  "$1" -- "$3" || exit 75
  exit ${EXIT_EXISTS}
fi
exit ${EXIT_MISSING}`

/**
 * $1 hash tool, $2 temp, $3 final, $4 directory, $5 "replace" or "keep". Order is the contract:
 * fsync temp → publish (ln fails if the final name exists: no silent overwrite; mv -f only on an
 * explicit replace) → fsync the directory → re-read and print the hash of the final file. On any
 * failure the temp is removed, and so is a copy this script published but could not prove.
 */
const PUBLISH_SCRIPT = `sync -- "$2" || { rm -f -- "$2"; exit 71; }
if [ "$5" = replace ]; then
  mv -f -T -- "$2" "$3" || { rm -f -- "$2"; exit 72; }
elif ln -T -- "$2" "$3"; then
  rm -f -- "$2"
else
  rm -f -- "$2"
  if [ -e "$3" ] || [ -L "$3" ]; then "$1" -- "$3" || exit 75; exit ${EXIT_EXISTS}; fi
  exit 72
fi
sync -- "$4" || { rm -f -- "$3"; exit 74; }
"$1" -- "$3" || { rm -f -- "$3"; exit 76; }`

/** $1 hash tool, $2 path: prints the hash, or exits EXIT_MISSING. */
const IS_DIRECTORY_SCRIPT = `if [ -d "$1" ]; then exit 0; fi
exit ${EXIT_MISSING}`

const HASH_SCRIPT = `if [ -e "$2" ] || [ -L "$2" ]; then exec "$1" -- "$2"; fi
exit ${EXIT_MISSING}`

// ---------------------------------------------------------------------------------------------
// Pure argv builders.
// ---------------------------------------------------------------------------------------------

/** The master: one authenticated connection, no command, kept until `ssh -O exit`. */
export function masterArgv(host: SshHost, connectTimeoutSeconds: number, controlPath: string): string[] {
  return [
    'ssh', '-M', '-N',
    '-o', 'ControlMaster=yes',
    '-o', 'ControlPersist=no',
    ...sshOptions(host, {connectTimeoutSeconds, controlPath}),
    '--', host.target,
  ]
}

/** Options for every client that must ride the master and never connect on its own. */
export function muxOptions(host: SshHost, connectTimeoutSeconds: number, controlPath: string): string[] {
  return [...sshOptions(host, {connectTimeoutSeconds, controlPath}), '-o', 'ControlMaster=no', '-o', 'ProxyCommand=false']
}

/** `ssh -O check|exit` against the master's socket. */
export function controlArgv(host: SshHost, controlPath: string, command: 'check' | 'exit'): string[] {
  return ['ssh', '-O', command, '-o', `ControlPath=${controlPath}`, '--', host.target]
}

/** `sh -c '<script>' sh <args…>` on the remote host, over the master. */
export function remoteScriptArgv(mux: readonly string[], host: SshHost, script: string, args: readonly string[]): string[] {
  return ['ssh', ...mux, '--', host.target, ['sh', '-c', script, 'sh', ...args].map(shellQuote).join(' ')]
}

/** A plain remote command (every word quoted), over the master. */
export function remoteCommandArgv(mux: readonly string[], host: SshHost, command: readonly string[]): string[] {
  return ['ssh', ...mux, '--', host.target, command.map(shellQuote).join(' ')]
}

/**
 * rsync of one file to a temporary remote name. --protect-args: the remote path travels inside
 * rsync's protocol, not through a shell. --perms with --chmod=F<mode>: exactly `mode`, or the
 * source's bits. --fsync: the receiver fsyncs the file before rsync reports success. Never
 * --inplace/--append(-verify): those write under the final name and skip "long enough" files
 * (docs/design.md#append-verify-forever).
 */
export function putRsyncArgv(opts: {
  mux: readonly string[]
  host: SshHost
  localPath: string
  remoteTemp: string
  mode?: number
  ioTimeoutSeconds: number
  bandwidthLimitKBps?: number
}): string[] {
  const argv = ['rsync', '--protect-args', '--times', '--perms']
  if (opts.mode !== undefined) argv.push(`--chmod=F${(opts.mode & 0o7777).toString(8)}`)
  argv.push('--fsync', `--timeout=${Math.max(1, Math.ceil(opts.ioTimeoutSeconds))}`)
  if (opts.bandwidthLimitKBps) argv.push(`--bwlimit=${opts.bandwidthLimitKBps}`)
  argv.push('-e', ['ssh', ...opts.mux].join(' '), '--', opts.localPath, remotePath(opts.host, opts.remoteTemp))
  return argv
}

/** known_hosts host spec as ssh writes it: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: SshHost): string {
  const name = host.target.slice(host.target.lastIndexOf('@') + 1).replace(/^\[(.*)\]$/, '$1')
  const port = host.port ?? 22
  return port === 22 ? name : `[${name}]:${port}`
}

/** The hash on the last line of md5sum/sha256sum output (a login shell may print lines first). */
function lastHash(stdout: string): string | null {
  const line = stdout.trimEnd().split('\n').at(-1) ?? ''
  return parseHashLine(line)?.hash ?? null
}

// Unix socket paths are limited to 108 bytes (104 on BSD); ssh also expands % and ~ in ControlPath.
const MAX_SOCKET_PATH = 100
/** After the connect timeout, how long open() keeps waiting for authentication to finish. */
const OPEN_GRACE_MS = 5_000
const CONTROL_COMMAND_TIMEOUT_MS = 5_000
const CLEANUP_TIMEOUT_MS = 10_000

interface Master {
  controlPath: string
  mux: string[]
  abort: AbortController
  alive: boolean
  /** Resolves when the master process ended: null for a clean exit, else the error. */
  exited: Promise<unknown>
  killOnExit: () => void
}

export class SshTransport implements Transport {
  readonly kind = 'ssh'
  private master: Master | undefined
  private opening: Promise<Master> | undefined
  private socketDir: string | undefined
  private connections = 0

  constructor(
    readonly host: HostConfig | SshHost,
    private readonly options: SshTransportOptions,
  ) {
    // Validates target, port, identity and known_hosts paths now, as a ConfigError naming the key.
    sshOptions(host, {connectTimeoutSeconds: options.connectTimeoutSeconds, configKey: options.configKey})
  }

  describe(destPath: string): string {
    return remotePath(this.host, destPath)
  }

  private get label(): string {
    const where = `${this.host.target}:${this.host.port ?? 22}`
    return this.options.configKey ? `${this.options.configKey} (${where})` : where
  }

  /** How many master connections this transport has opened (1 for a healthy run). */
  get connectionsOpened(): number {
    return this.connections
  }

  async open(signal?: AbortSignal): Promise<void> {
    await this.connected(signal)
  }

  /** The live master, opening one if there is none (first use, or the last one dropped). */
  private async connected(signal?: AbortSignal): Promise<Master> {
    if (this.master?.alive) return this.master
    this.opening ??= this.connect(signal).finally(() => (this.opening = undefined))
    return this.opening
  }

  private async controlDirectory(): Promise<string> {
    if (this.socketDir) return this.socketDir
    let parent = resolve(this.options.controlDir)
    // `<parent>/<6 chars>/m<n>` must fit a socket path and carry no ssh %-token or ~.
    if (parent.length + 20 > MAX_SOCKET_PATH || /[%~\s'"\\]/.test(parent)) parent = tmpdir()
    await mkdir(parent, {recursive: true, mode: 0o700})
    // mkdtemp creates the directory with mode 0700: nobody else can reach the socket.
    this.socketDir = await mkdtemp(join(parent, 'df-'))
    return this.socketDir
  }

  private async connect(signal?: AbortSignal): Promise<Master> {
    const {connectTimeoutSeconds} = this.options
    const controlPath = join(await this.controlDirectory(), `m${this.connections}`)
    this.connections++
    const abort = new AbortController()
    const master: Master = {
      controlPath,
      mux: muxOptions(this.host, connectTimeoutSeconds, controlPath),
      abort,
      alive: true,
      exited: Promise.resolve(null),
      // A crash of dataflow must not leave the connection behind.
      killOnExit: () => abort.abort(),
    }
    process.once('exit', master.killOnExit)
    // No timeout: the master lives for the run. A dead peer ends it through ServerAlive* (45 s).
    master.exited = run(masterArgv(this.host, connectTimeoutSeconds, controlPath), {signal: abort.signal, ...SSH_RUN_CODES})
      .then(
        () => null,
        (error: unknown) => error,
      )
      .finally(() => {
        master.alive = false
        process.removeListener('exit', master.killOnExit)
      })

    // Ready when the master answers on its socket, which it creates only once authenticated.
    const waitMs = connectTimeoutSeconds * 1000 + OPEN_GRACE_MS
    const deadline = Date.now() + waitMs
    try {
      for (;;) {
        if (!master.alive) throw await this.connectFailure(await master.exited)
        const socketExists = await stat(controlPath).then(
          () => true,
          () => false,
        )
        if (socketExists) {
          const check = await run(controlArgv(this.host, controlPath, 'check'), {
            timeoutMs: CONTROL_COMMAND_TIMEOUT_MS,
            okCodes: [0, SSH_FAILURE_CODE],
            signal,
          })
          if (check.code === 0) break
        }
        if (Date.now() > deadline) {
          throw new UnreachableError(`${this.label}: no ssh connection after ${Math.round(waitMs / 1000)} s`)
        }
        await sleep(25, signal)
      }
    } catch (error) {
      abort.abort()
      await master.exited
      throw error
    }
    this.master = master
    return master
  }

  /**
   * Why the master exited. By exit code: 255 is ssh's own failure. An unknown host key is one of
   * those and is permanent (an operator must check and add the key; it is never accepted), so a
   * 255 is followed by a look into known_hosts with `ssh-keygen -F`, whose exit code says whether
   * the host is listed. Everything else that is 255 is an unreachable host: transient.
   */
  private async connectFailure(error: unknown): Promise<Error> {
    if (error instanceof InterruptedError) return error
    const tool = error instanceof ExternalToolError ? error : undefined
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a non-tool rejection is shown as String() shows it
    const why = tool?.details.stderrTail.split('\n').at(-1) ?? (error === null ? 'master connection ended' : String(error))
    if (tool?.details.code === SSH_FAILURE_CODE && !(await this.hostKeyKnown())) {
      const files = this.knownHostsFiles().join(' or ')
      return new ConfigError(
        `${this.label}: the host key of ${knownHostsName(this.host)} is not in ${files}; ssh refused to connect (StrictHostKeyChecking=yes). ` +
          `Check the server's fingerprint and add its key there; dataflow never accepts an unknown host key.`,
      )
    }
    return new UnreachableError(`${this.label}: cannot open the ssh connection: ${why}`, {cause: error})
  }

  private knownHostsFiles(): string[] {
    if (this.host.knownHostsFile) return [this.host.knownHostsFile]
    const home = process.env.HOME ?? ''
    return [`${home}/.ssh/known_hosts`, `${home}/.ssh/known_hosts2`, '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']
  }

  private async hostKeyKnown(): Promise<boolean> {
    for (const file of this.knownHostsFiles()) {
      const exists = await stat(file).then(
        () => true,
        () => false,
      )
      if (!exists) continue
      // Exit 0: listed; 1: not listed; anything else: cannot tell, so do not call it unknown.
      const found = await run(['ssh-keygen', '-F', knownHostsName(this.host), '-f', file], {
        timeoutMs: CONTROL_COMMAND_TIMEOUT_MS,
        okCodes: [0, 1],
      }).catch(() => ({code: 0}))
      if (found.code !== 1) return true
    }
    return false
  }

  async close(): Promise<void> {
    const master = this.master
    this.master = undefined
    if (master?.alive) {
      await run(controlArgv(this.host, master.controlPath, 'exit'), {
        timeoutMs: CONTROL_COMMAND_TIMEOUT_MS,
        okCodes: [0, SSH_FAILURE_CODE],
      }).catch(() => undefined)
      // The wait is cancelled once the master is gone: a pending 3 s timer would keep every
      // ssh stage run alive for 3 s after its work is done.
      const waited = new AbortController()
      const ended = await Promise.race([
        master.exited.then(() => true),
        sleep(3000, waited.signal).then(
          () => false,
          () => true,
        ),
      ])
      waited.abort()
      if (!ended) {
        master.abort.abort()
        await master.exited
      }
    }
    if (this.socketDir) {
      await rm(this.socketDir, {recursive: true, force: true})
      this.socketDir = undefined
    }
  }

  /** Runs a remote script over the master; exit codes in `okCodes` are answers, not failures. */
  private async remote(script: string, args: readonly string[], destPath: string, okCodes: readonly number[], signal?: AbortSignal) {
    const master = await this.connected(signal)
    try {
      return await run(remoteScriptArgv(master.mux, this.host, script, args), {
        timeoutMs: this.options.commandTimeoutSeconds * 1000,
        signal,
        okCodes,
        ...SSH_RUN_CODES,
      })
    } catch (error) {
      throw this.classify(error, destPath)
    }
  }

  /**
   * Error messages that name the host and the file, in one line; classes by exit code only:
   * 255 (ssh, or rsync passing ssh's 255 on) → UnreachableError (transient); our scripts' codes →
   * their reason (permanent); the rest keeps run()'s classification (RSYNC_RUN_CODES/SSH_RUN_CODES).
   */
  private classify(error: unknown, destPath: string): unknown {
    if (!(error instanceof ExternalToolError)) return error
    const code = error.details.code
    const where = this.describe(destPath)
    if (code === SSH_FAILURE_CODE) return new UnreachableError(`${where}: ssh connection failed or dropped: ${error.message}`, {cause: error})
    const reason = code === null ? undefined : SCRIPT_FAILURES[code]
    const message = reason ? `${where}: ${reason}: ${causeLine(error.details.stderrTail)}` : `${where}: ${error.message}`
    return new ExternalToolError(message.trimEnd(), error.details, {transient: error.transient, unreachable: error.exitCode === 5})
  }

  async put(localPath: string, destPath: string, options: PutOptions): Promise<PutResult> {
    const {algorithm, signal} = options
    if (!posix.isAbsolute(destPath)) throw new BugError(`SshTransport.put: destination "${destPath}" must be absolute`)
    if (options.group !== undefined) throw new BugError(`SshTransport.put: group is not supported over ssh (${this.describe(destPath)})`)
    // rsync reads "host:path" as remote; an absolute local path can never look like that.
    const source = resolve(localPath)
    const tool = HASH_TOOLS[algorithm]
    const dir = posix.dirname(destPath)
    const {size: bytes} = await stat(source)

    // The source is hashed only when the answer is needed: before sending when the destination
    // exists (identical or conflict?), else while the remote side fsyncs, publishes and re-reads
    // the copy. Hashing during the rsync would take CPU from the transfer, while the two hashes
    // (here and there) run side by side on different machines. Publishing before the local hash is
    // known exposes nothing new: the final name holds the copy before its re-read in any case,
    // and a copy that does not match is removed before put() returns.
    let sourceHashing: Promise<string> | undefined
    const hashSource = () => (sourceHashing ??= hashFile(source, algorithm, signal))

    const prepared = await this.remote(PREPARE_SCRIPT, [tool, dir, destPath], destPath, [0, EXIT_EXISTS, EXIT_MISSING], signal)
    if (prepared.code === EXIT_EXISTS) {
      const existing = lastHash(prepared.stdout)
      const knownHash = await hashSource()
      if (existing === knownHash) return {outcome: 'identical', hash: existing, sourceHash: knownHash, bytes}
      if (options.onConflict !== 'replace') {
        throw new ConflictError(`${this.describe(destPath)}: exists with different content`, destPath, knownHash, existing ?? 'unreadable')
      }
    }

    const temp = tempPathFor(destPath)
    const master = await this.connected(signal)
    let published = false
    try {
      const rsync = putRsyncArgv({
        mux: master.mux,
        host: this.host,
        localPath: source,
        remoteTemp: temp,
        mode: options.mode,
        ioTimeoutSeconds: this.options.ioTimeoutSeconds,
        bandwidthLimitKBps: this.options.bandwidthLimitKBps,
      })
      try {
        await run(rsync, {timeoutMs: this.options.commandTimeoutSeconds * 1000, signal, ...RSYNC_RUN_CODES})
      } catch (error) {
        throw this.classify(error, destPath)
      }
      const replace = options.onConflict === 'replace' ? 'replace' : 'keep'
      // Both settle before anything is decided: the remote side must be done with the temp.
      const [hashed, publishing] = await Promise.allSettled([
        hashSource(),
        this.remote(PUBLISH_SCRIPT, [tool, temp, destPath, dir, replace], destPath, [0, EXIT_EXISTS], signal),
      ])
      if (publishing.status === 'rejected') throw publishing.reason
      // From here the script has removed the temp (published or not).
      published = true
      const done = publishing.value
      if (hashed.status === 'rejected') {
        // The source could not be read back: what we published cannot be proven.
        if (done.code === 0) await this.bestEffort(['rm', '-f', '--', destPath])
        throw hashed.reason
      }
      const sourceHash = hashed.value
      const hash = lastHash(done.stdout)
      if (done.code === EXIT_EXISTS) {
        // Another writer published the same name between our check and our ln.
        if (hash === sourceHash) return {outcome: 'identical', hash, sourceHash, bytes}
        throw new ConflictError(`${this.describe(destPath)}: appeared while sending, with different content`, destPath, sourceHash, hash ?? 'unreadable')
      }
      if (hash !== sourceHash) {
        // If even the removal fails (connection lost), the next put finds a conflicting file there,
        // which the re-send replaces.
        const removed = await this.bestEffort(['rm', '-f', '--', destPath])
        throw new VerifyError(
          `${this.describe(destPath)}: copy does not match its source (${algorithm} ${hash ?? 'unreadable'} ≠ ${sourceHash}); ` +
            (removed ? 'copy removed' : 'the bad copy could NOT be removed'),
          destPath,
          sourceHash,
          hash ?? 'unreadable',
        )
      }
      return {outcome: 'copied', hash, sourceHash, bytes}
    } finally {
      // A failed send leaves no temp behind when the connection still allows a cleanup; a stale
      // one (connection lost) carries the .dataflow-tmp- marker for cleanStaleTemps-style sweeps.
      if (!published) await this.bestEffort(['rm', '-f', '--', temp])
    }
  }

  /** A cleanup command that must not mask the real error and must not open a new connection; true when it ran. */
  private async bestEffort(command: readonly string[]): Promise<boolean> {
    const master = this.master
    if (!master?.alive) return false
    return run(remoteCommandArgv(master.mux, this.host, command), {timeoutMs: CLEANUP_TIMEOUT_MS}).then(
      () => true,
      () => false,
    )
  }

  async isDirectory(destDir: string, signal?: AbortSignal): Promise<boolean> {
    const result = await this.remote(IS_DIRECTORY_SCRIPT, [destDir], destDir, [0, EXIT_MISSING], signal)
    return result.code === 0
  }

  async hash(destPath: string, algorithm: HashAlgorithm, signal?: AbortSignal): Promise<string | null> {
    const result = await this.remote(HASH_SCRIPT, [HASH_TOOLS[algorithm], destPath], destPath, [0, EXIT_MISSING], signal)
    if (result.code === EXIT_MISSING) return null
    const hash = lastHash(result.stdout)
    if (hash === null) throw new BugError(`${this.describe(destPath)}: ${HASH_TOOLS[algorithm]} printed no hash`)
    return hash
  }

  async mkdir(destDir: string, signal?: AbortSignal): Promise<void> {
    await this.command(['mkdir', '-p', '--', destDir], destDir, signal)
  }

  async remove(destPath: string, signal?: AbortSignal): Promise<void> {
    await this.command(['rm', '-f', '--', destPath], destPath, signal)
  }

  private async command(command: readonly string[], destPath: string, signal?: AbortSignal): Promise<void> {
    const master = await this.connected(signal)
    try {
      await run(remoteCommandArgv(master.mux, this.host, command), {
        timeoutMs: this.options.commandTimeoutSeconds * 1000,
        signal,
        ...SSH_RUN_CODES,
      })
    } catch (error) {
      throw this.classify(error, destPath)
    }
  }
}
