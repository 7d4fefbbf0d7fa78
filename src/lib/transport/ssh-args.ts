// Pure argv builders for ssh and rsync-over-ssh, and the classification of their exit codes.
// Nothing here starts a process (src/lib/exec.ts does); everything is table-tested in
// test/ssh-args.test.ts.
//
// Contracts:
// - Every ssh we start is non-interactive and pins the host key: BatchMode=yes (never a password
//   or passphrase prompt that would hang a daemon), StrictHostKeyChecking=yes (an unknown or changed
//   host key is a refusal, exit 255, never a silent trust), ConnectTimeout and ServerAlive* (a dead
//   peer ends the connection instead of freezing a radar's pipeline: docs/design.md#no-timeouts).
// - Paths given to these builders must be absolute (callers expand `~/` with resolvePath()).
// - Remote file names never pass through a remote shell unquoted: sshCommand() single-quotes every
//   remote argument, and callers of rsync pass --protect-args (-s) so rsync sends remote paths
//   inside its protocol rather than on the remote command line.
import type {HostConfig} from '../config/schema.js'
import {BugError, ConfigError} from '../errors.js'

/** The part of a host's configuration that ssh needs (HostConfig satisfies it). */
export type SshHost = Pick<HostConfig, 'target'> & Partial<Pick<HostConfig, 'port' | 'identityFile' | 'knownHostsFile'>>

export interface SshOptions {
  /** ssh ConnectTimeout: seconds to wait for the TCP connection and the SSH handshake. */
  connectTimeoutSeconds: number
  /** A ControlMaster socket to reuse (ssh still percent-expands it, e.g. %C). */
  controlPath?: string
  /** BatchMode=yes: never prompt (default true). */
  batch?: boolean
  /** Where this host sits in the configuration (e.g. `hosts.telemetry`), for error messages. */
  configKey?: string
}

/** ServerAliveInterval × ServerAliveCountMax: a silent peer is dropped after 45 s. */
export const SERVER_ALIVE_INTERVAL_SECONDS = 15
export const SERVER_ALIVE_COUNT_MAX = 3

// Same rule as HostSchema.target; repeated because builders may receive hosts built in code.
const TARGET = /^([A-Za-z0-9._-]+@)?[A-Za-z0-9.:[\]-]+$/

function keyName(opts: SshOptions, key: string): string {
  return opts.configKey ? `${opts.configKey}.${key}` : key
}

function checkTarget(host: SshHost, opts: SshOptions): void {
  // A target starting with '-' would be read by ssh as an option (e.g. -oProxyCommand=…).
  if (!TARGET.test(host.target) || host.target.startsWith('-')) {
    throw new ConfigError(`${keyName(opts, 'target')}: "${host.target}" is not user@host (no spaces, no shell characters)`)
  }
  const port = host.port ?? 22
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`${keyName(opts, 'port')}: ${port} is not a TCP port`)
  }
}

/**
 * Identity and known_hosts paths are refused, not escaped, when they contain:
 * - whitespace or quotes: rsync splits its `-e` string on spaces and interprets quotes, and ssh
 *   reads UserKnownHostsFile as a whitespace-separated list of files;
 * - `%` or `$`: ssh expands %-tokens and ${VAR} in IdentityFile and UserKnownHostsFile;
 * - a backslash: ssh's option parser treats it as an escape.
 */
const UNSAFE_PATH = /[\s'"\\%$]/

function checkPath(value: string, key: string): string {
  if (UNSAFE_PATH.test(value)) {
    throw new ConfigError(`${key}: the path "${value}" contains whitespace, a quote, a backslash, % or $, which ssh/rsync would misread; use a path without them`)
  }
  if (!value.startsWith('/')) throw new ConfigError(`${key}: the path "${value}" must be absolute`)
  return value
}

/** ssh options (everything between `ssh` and the destination). */
export function sshOptions(host: SshHost, opts: SshOptions): string[] {
  checkTarget(host, opts)
  if (!(opts.connectTimeoutSeconds > 0)) throw new BugError(`sshOptions: connectTimeoutSeconds must be positive (${opts.connectTimeoutSeconds})`)
  const argv = ['-p', String(host.port ?? 22)]
  if (host.identityFile !== undefined) {
    // IdentitiesOnly: offer this key only, not every key in an agent (servers cap auth attempts).
    argv.push('-i', checkPath(host.identityFile, keyName(opts, 'identityFile')), '-o', 'IdentitiesOnly=yes')
  }
  if (opts.batch ?? true) argv.push('-o', 'BatchMode=yes')
  argv.push('-o', 'StrictHostKeyChecking=yes')
  if (host.knownHostsFile !== undefined) {
    argv.push('-o', `UserKnownHostsFile=${checkPath(host.knownHostsFile, keyName(opts, 'knownHostsFile'))}`)
  }
  argv.push(
    '-o', `ConnectTimeout=${Math.max(1, Math.ceil(opts.connectTimeoutSeconds))}`,
    '-o', `ServerAliveInterval=${SERVER_ALIVE_INTERVAL_SECONDS}`,
    '-o', `ServerAliveCountMax=${SERVER_ALIVE_COUNT_MAX}`,
  )
  if (opts.controlPath !== undefined) {
    if (/[\s'"\\]/.test(opts.controlPath)) throw new ConfigError(`ControlPath "${opts.controlPath}" must not contain whitespace, quotes or backslashes`)
    argv.push('-o', `ControlPath=${opts.controlPath}`)
  }
  return argv
}

/**
 * One argument quoted for a POSIX shell (sh, bash, dash, zsh): wrapped in single quotes, inside
 * which nothing is special except the single quote itself, written as '\'' (close, escaped quote,
 * reopen). Spaces, $, `, ;, |, *, \ and newlines come through verbatim. Not for csh/tcsh login
 * shells, which treat `!` and newlines inside quotes differently.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new BugError('shellQuote: an argument cannot contain a NUL byte')
  return `'${arg.replaceAll("'", `'\\''`)}'`
}

/**
 * argv for running `remoteArgv` on `host`. ssh does not pass an argv to the remote side: it joins
 * its command words with spaces into ONE string that the remote user's login shell parses. So the
 * remote command is built here as a single string with every word quoted by shellQuote(), and the
 * destination follows `--` so it can never be read as an option.
 */
export function sshCommand(host: SshHost, opts: SshOptions, remoteArgv: readonly string[]): string[] {
  if (remoteArgv.length === 0) throw new BugError('sshCommand: empty remote command')
  return ['ssh', ...sshOptions(host, opts), '--', host.target, remoteArgv.map(shellQuote).join(' ')]
}

/**
 * The value for rsync's `-e`/`--rsh`. rsync splits this string on spaces itself (and honours
 * quotes), which is why sshOptions() refuses paths containing whitespace or quotes.
 */
export function rsyncRemoteShell(host: SshHost, opts: SshOptions): string {
  return ['ssh', ...sshOptions(host, opts)].join(' ')
}

/**
 * rsync's `user@host:path`. An IPv6 address is bracketed so that rsync finds the path after the
 * right colon. Use with --protect-args (-s) so that the path is not parsed by a remote shell.
 */
export function remotePath(host: SshHost, path: string): string {
  if (path.length === 0) throw new BugError('remotePath: empty path')
  const at = host.target.lastIndexOf('@')
  const user = host.target.slice(0, at + 1)
  const name = host.target.slice(at + 1)
  const bracketed = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name
  return `${user}${bracketed}:${path}`
}

// ---------------------------------------------------------------------------------------------
// Exit codes (rsync(1) "EXIT VALUES"; ssh(1) "exits with the exit status of the remote command or
// with 255 if an error occurred"). Classification is by exit code only, never by stderr wording.
//
// "Transient" means a retry within the backoff window (seconds to a minute) may succeed without
// anyone acting: the connection or the peer hiccuped. Anything else is permanent for this run; the
// file stays where it is and the next trigger or rescan tries again, so a wrong "permanent" only
// costs latency, while a wrong "transient" only costs a few bounded retries.
//
//  code  meaning                                   class        why
//   1    syntax or usage error                     permanent    our argv or the remote's options
//   2    protocol incompatibility                  permanent    versions, or a remote login that
//                                                               prints text ("is your shell clean?")
//   3    errors selecting input/output files/dirs  permanent    missing or unreadable paths
//   4    requested action not supported            permanent    e.g. --mkpath on an old remote rsync
//   5    error starting client-server protocol     permanent    daemon auth/module errors (not ssh)
//  10    error in socket I/O                       transient    connection dropped
//  11    error in file I/O                         permanent    mkdir/write failed on the receiver
//                                                               (permission, missing parent, disk
//                                                               full): a quick retry fails the same
//  12    error in rsync protocol data stream       transient    connection closed mid-stream; also
//                                                               "rsync not installed" on the remote
//                                                               (ssh 127), which then fails each
//                                                               retry: bounded, so acceptable
//  13    errors with program diagnostics           permanent
//  14    error in IPC code                         permanent
//  15    sibling process crashed                   permanent
//  16    sibling process killed by a signal        transient    usually ssh killed (OOM, shutdown)
//  19    received SIGUSR1                          permanent
//  20    received SIGINT, SIGTERM or SIGHUP        transient    killed from outside (shutdown, our
//                                                               own timeout: exec.ts reports that
//                                                               as a timeout, also transient)
//  21    some error returned by waitpid()          permanent
//  22    error allocating core memory buffers      transient    memory pressure (low-memory sites)
//  23    partial transfer due to error             permanent    per-file errors (permission denied,
//                                                               source missing, failed verification);
//                                                               the cause needs an operator or a
//                                                               new run, not a retry in seconds
//  24    partial transfer due to vanished source   permanent    someone else moved the file; callers
//                                                               syncing whole directories may list
//                                                               it in okCodes instead
//  25    --max-delete limit stopped deletions      permanent
//  30    timeout in data send/receive (--timeout)  transient
//  35    timeout waiting for daemon connection     transient
// 255    ssh failed (refused, timeout, DNS, auth,  unreachable  and transient: a host that is down
//        host key) — rsync passes ssh's 255 on                  now may be up in a minute; a bad key
//                                                               fails every retry, bounded
// ---------------------------------------------------------------------------------------------

/** ssh's own failure (as opposed to the remote command's exit status). */
export const SSH_FAILURE_CODE = 255

export const RSYNC_TRANSIENT_CODES: readonly number[] = [10, 12, 16, 20, 22, 30, 35, SSH_FAILURE_CODE]
export const RSYNC_UNREACHABLE_CODES: readonly number[] = [SSH_FAILURE_CODE]
export const SSH_TRANSIENT_CODES: readonly number[] = [SSH_FAILURE_CODE]
export const SSH_UNREACHABLE_CODES: readonly number[] = [SSH_FAILURE_CODE]

export type ExitClass = 'ok' | 'transient' | 'unreachable' | 'permanent'

export function classifyRsyncExit(code: number): ExitClass {
  if (code === 0) return 'ok'
  if (RSYNC_UNREACHABLE_CODES.includes(code)) return 'unreachable'
  if (RSYNC_TRANSIENT_CODES.includes(code)) return 'transient'
  return 'permanent'
}

/** Spread into exec.run() options for an rsync over ssh. */
export const RSYNC_RUN_CODES = {transientCodes: RSYNC_TRANSIENT_CODES, unreachableCodes: RSYNC_UNREACHABLE_CODES} as const
/** Spread into exec.run() options for an ssh command (any other code is the remote command's). */
export const SSH_RUN_CODES = {transientCodes: SSH_TRANSIENT_CODES, unreachableCodes: SSH_UNREACHABLE_CODES} as const
