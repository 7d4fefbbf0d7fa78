// systemd units for the three host roles (the original's inotify_daemons/services/*), with the
// restart, stop and sandboxing settings the original lacked (docs/design.md#bare-systemd-units).
// buildUnit() is pure: the text depends only on its input, so tests compare it and
// systemd-analyze checks it.
// The I/O an installation needs (which binary, the user's home, writing files) is at the end.
import {constants} from 'node:fs'
import {access, stat} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {isAbsolute, join, normalize, resolve} from 'node:path'

import type {Role} from '../config/schema.js'
import {ConfigError, UsageError} from '../errors.js'
import {run} from '../exec.js'
import {writeFileAtomic} from '../fs/atomic.js'

/** The account each role ran as in the original. */
export const DEFAULT_SERVICE_USER: Readonly<Record<Role, string>> = {
  borealis: 'radar',
  'site-linux': 'transfer',
  campus: 'dataman',
}

/** Where the single executable unpacks its runtime; made by CacheDirectory=dataflow. */
export const SERVICE_CACHE_DIR = '/var/cache/dataflow'

/** The `{radar}` of config paths; in the campus template it becomes the instance name %i. */
export const RADAR_PLACEHOLDER = '{radar}'

export interface UnitInput {
  role: Role
  /**
   * borealis/site-linux: the radar passed to the daemon as --radar (omit it to let the daemon
   * read the config's radar key). campus: ignored, the template's instance name is the radar.
   */
  radar?: string
  user: string
  group?: string
  /** Absolute path of the dataflow executable. */
  binaryPath: string
  /** The config file the daemon reads (DATAFLOW_CONFIG). */
  configFile: string
  /** Absolute directories the service writes; for campus `{radar}` stands for the instance. */
  readWritePaths: readonly string[]
  readOnlyPaths?: readonly string[]
}

export interface UnitFile {
  fileName: string
  text: string
}

export function unitFileName(role: Role): string {
  return role === 'campus' ? 'dataflow-campus@.service' : `dataflow-${role}.service`
}

/** The command that starts a unit (campus: one instance per radar); null when unknown. */
export function enableHint(role: Role, radar?: string): string | null {
  if (role !== 'campus') return `systemctl enable --now ${unitFileName(role)}`
  return radar ? `systemctl enable --now dataflow-campus@${radar}.service` : null
}

const DESCRIPTION: Readonly<Record<Role, string>> = {
  borealis: 'SuperDARN data flow: Borealis radar computer to the site NAS / Site-Linux',
  'site-linux': 'SuperDARN data flow: Site-Linux computer (plots, data and camera photos to campus)',
  campus: 'SuperDARN data flow: campus conversion and distribution for radar %i',
}

// ---- unit-file syntax ----------------------------------------------------------------------

/** Control characters would end the line and inject directives: refuse them. */
function checkValue(value: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new ConfigError(`${what} "${JSON.stringify(value)}" contains a control character`)
  return value
}

/** `%` starts a specifier (%i, %h…) in nearly every setting; a literal one is `%%`. */
function escapeSpecifiers(value: string): string {
  return value.replaceAll('%', '%%')
}

/** One word of a space-separated list: double-quoted when it holds blanks, quotes or backslashes. */
function quoteWord(word: string): string {
  return /[\s"'\\]/.test(word) ? `"${word.replace(/["\\]/g, '\\$&')}"` : word
}

/** A config-derived path in unit syntax; `{radar}` → %i in the campus template. */
function unitPath(path: string, role: Role, what: string): string {
  const escaped = escapeSpecifiers(checkValue(path, what))
  if (!escaped.includes(RADAR_PLACEHOLDER)) return escaped
  if (role !== 'campus') throw new ConfigError(`${what} "${path}" still contains ${RADAR_PLACEHOLDER}: pass --radar`)
  return escaped.replaceAll(RADAR_PLACEHOLDER, '%i')
}

function execStart(input: UnitInput): string {
  const binary = checkValue(input.binaryPath, '--binary')
  if (!isAbsolute(binary)) throw new UsageError(`--binary "${binary}" must be an absolute path`)
  // systemd substitutes $VAR in arguments but not in the program path, so `$` has no single
  // correct spelling there: refuse it rather than start the wrong program.
  if (binary.includes('$')) throw new UsageError(`--binary "${binary}" must not contain "$"`)
  const args = ['daemon', '--role', input.role]
  if (input.role === 'campus') args.push('--radar', '%i')
  else if (input.radar) args.push('--radar', escapeSpecifiers(checkValue(input.radar, 'radar')))
  return [quoteWord(escapeSpecifiers(binary)), ...args].join(' ')
}

// ---- the unit ------------------------------------------------------------------------------

export function buildUnit(input: UnitInput): UnitFile {
  const {role} = input
  const fileName = unitFileName(role)
  const instance = role === 'campus' ? '-%i' : ''
  const user = escapeSpecifiers(checkValue(input.user, '--user'))
  const configFile = escapeSpecifiers(checkValue(input.configFile, 'config file'))
  const rw = input.readWritePaths.map((p) => quoteWord(`-${unitPath(p, role, 'writable path')}`))
  const ro = (input.readOnlyPaths ?? []).map((p) => quoteWord(`-${unitPath(p, role, 'read-only path')}`))
  const lines = [
    `# ${fileName}: generated by \`dataflow install-service --role ${role}\`; regenerate rather than edit.`,
    '# Local changes belong in a drop-in (systemctl edit), so a regenerated unit keeps them.',
    ...(role === 'campus' ? ['# One instance per radar: systemctl enable --now dataflow-campus@sas.service'] : []),
    '',
    '[Unit]',
    `Description=${DESCRIPTION[role]}`,
    'Documentation=https://github.com/SuperDARNCanada/data_flow',
    '# The daemon copies to other hosts from its first cycle: start once the network is up.',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    '# The daemon reports READY=1 once its watches are in place and WATCHDOG=1 while its event',
    '# loop runs, through systemd-notify: a child process, hence NotifyAccess=all. A daemon that',
    '# stops answering for WatchdogSec is killed and restarted (Restart=on-failure).',
    'Type=notify',
    'NotifyAccess=all',
    'WatchdogSec=300',
    `User=${user}`,
    ...(input.group ? [`Group=${escapeSpecifiers(checkValue(input.group, 'group'))}`] : []),
    `ExecStart=${execStart(input)}`,
    '# systemctl reload: the daemon rescans its inputs at once.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    '# Named explicitly, so a missing config file stops the daemon instead of running on defaults.',
    `Environment=${quoteWord(`DATAFLOW_CONFIG=${configFile}`)}`,
    '# The single executable unpacks its runtime here, once per version: home is read-only and',
    '# /tmp is private to each start, so neither would keep it. CacheDirectory= creates it.',
    `Environment=DATAFLOW_CACHE_DIR=${SERVICE_CACHE_DIR}`,
    'CacheDirectory=dataflow',
    '# The user\'s home (the original ran in /, which made relative paths act on the root).',
    'WorkingDirectory=~',
    '# A crash restarts the daemon; a requested stop (exit 0) does not. 10 s apart, so a',
    '# failing host does not make it spin.',
    'Restart=on-failure',
    'RestartSec=10',
    '# SIGTERM goes to the daemon alone: it stops taking work, lets in-flight copies finish or',
    '# clean up, and stops its own children. After TimeoutStopSec everything left gets SIGKILL.',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=120',
    `SyslogIdentifier=dataflow-${role}${instance}`,
    '# Files 664 and directories 775, as in the original: the group shares the data.',
    'UMask=0002',
    '',
    '# Sandbox (see systemd.exec(5)); `systemd-analyze security <unit>` rates it.',
    'NoNewPrivileges=yes',
    '# The whole file system is read-only except the directories this role writes, taken from',
    '# the config when the unit was generated. "-": a directory that does not exist (yet) does',
    '# not stop the service from starting, but stays read-only to it until the next start, and',
    '# the service cannot create it: create these directories first. Regenerate the unit after',
    '# changing them in the config.',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    `ReadWritePaths=${rw.join(' ')}`,
    ...(ro.length > 0 ? [`ReadOnlyPaths=${ro.join(' ')}`] : []),
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'PrivateMounts=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    '# /proc shows only this service\'s processes and no kernel files (Node then reads memory',
    '# sizes through sysinfo(2); os.cpus() is empty).',
    'ProtectProc=invisible',
    'ProcSubset=pid',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    '# @system-service keeps @chown (chgrp of shared files, rsync --archive), so no ~@privileged.',
    '# @pkey: V8 probes memory protection keys. A call outside the list fails with EPERM, so',
    '# Node takes its fallback instead of being killed by SIGSYS.',
    'SystemCallFilter=@system-service @pkey',
    'SystemCallErrorNumber=EPERM',
    '# No capabilities at all: the service needs none.',
    'CapabilityBoundingSet=',
    'AmbientCapabilities=',
    '# AF_UNIX: ssh connection sharing and user look-ups (nscd, sssd); AF_INET/AF_INET6: rsync, ssh.',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    '# Deliberately not set:',
    '# MemoryDenyWriteExecute=yes: Node\'s JIT needs writable+executable memory and crashes.',
    '# PrivateUsers=yes: it maps only this user and root, so chgrp to a shared group (campus',
    '#   staging: sddata) fails and files of other accounts (NAS, staging) belong to "nobody".',
    '# IPAddressDeny=: the daemon must reach the other hosts.',
    '# RemoveIPC=yes: the account is shared with operators (and, on campus, other instances).',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ]
  return {fileName, text: lines.join('\n')}
}

// ---- installation (I/O) --------------------------------------------------------------------

/** True inside the single executable (node:sea exists from Node 20.12; older: never a SEA). */
export function runningAsSingleExecutable(): boolean {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as {isSea?: () => boolean}
    return typeof sea.isSea === 'function' && sea.isSea()
  } catch {
    return false
  }
}

/**
 * The executable ExecStart runs: --binary (absolute, an executable file), else this process
 * when it is the single executable. Under `node` there is no one file to point at.
 */
export async function resolveServiceBinary(flag: string | undefined, isSea = runningAsSingleExecutable()): Promise<string> {
  if (flag === undefined) {
    if (isSea) return process.execPath
    throw new UsageError(
      'not running as the single executable, so there is no binary to point ExecStart at: pass --binary /absolute/path/to/dataflow',
    )
  }
  if (!isAbsolute(flag)) throw new UsageError(`--binary "${flag}" must be an absolute path (systemd does not search PATH)`)
  const path = normalize(flag)
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--binary ${path}: ${error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code ?? error.message})`}`)
  })
  if (!info.isFile()) throw new UsageError(`--binary ${path}: not a regular file`)
  await access(path, constants.X_OK).catch(() => {
    throw new UsageError(`--binary ${path}: not executable`)
  })
  return path
}

/**
 * The service user's home from the user database (`getent passwd`, so LDAP users count too);
 * /home/<user> when the user does not exist here (yet) or getent is missing.
 */
export async function serviceUserHome(user: string): Promise<string> {
  const fallback = join('/home', user)
  try {
    // getent exits 2 when the user is unknown.
    const result = await run(['getent', 'passwd', user], {okCodes: [0, 2], timeoutMs: 10_000})
    const home = result.code === 0 ? result.stdout.split('\n')[0]?.split(':')[5] : undefined
    return home && isAbsolute(home) ? home : fallback
  } catch {
    return fallback
  }
}

/** The directories of `paths` that do not exist (the sandboxed service could not create them). */
export async function missingDirectories(paths: readonly string[]): Promise<string[]> {
  const missing: string[] = []
  for (const path of paths) {
    const info = await stat(path).catch(() => null)
    if (!info?.isDirectory()) missing.push(path)
  }
  return missing
}

export interface WrittenUnit extends UnitFile {
  /** Where the unit was (or, with dryRun, would be) written; absent without an output directory. */
  path?: string
}

/** Writes each unit atomically into outputDir (replacing an older version); dryRun writes nothing. */
export async function writeUnitFiles(units: readonly UnitFile[], options: {outputDir?: string; dryRun?: boolean}): Promise<WrittenUnit[]> {
  const {outputDir} = options
  if (outputDir === undefined) return units.map((unit) => ({...unit}))
  const out: WrittenUnit[] = []
  for (const unit of units) {
    const path = resolve(outputDir, unit.fileName)
    if (!options.dryRun) await writeFileAtomic(path, unit.text, {mode: 0o644, overwrite: true})
    out.push({...unit, path})
  }
  return out
}
