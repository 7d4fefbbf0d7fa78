// The original's flag protocol between hosts (docs/design.md#flag-protocol), unchanged so that a
// site can migrate one host at a time while the old scripts still run on the others:
//
//   borealis   → `.borealis_flag`             → site-linux's site.watchDirectory   (hosts.siteLinux)
//   site-linux → `.site-linux_flag_<radar>`   → campus's campus.watchDirectory     (hosts.campus)
//
// A flag is an empty file, touched in this host's flags directory and sent so that it APPEARS BY A
// RENAME in the receiver's watch directory: the receiver (ours or the original's inotifywait)
// reacts to IN_MOVED_TO. Over ssh this is rsync, which writes `.<name>.XXXXXX` and renames it into
// place; --ignore-times makes it do so even when an identical flag is still there (a receiver that
// has not consumed the previous flag yet still sees a new event). Locally (hosts.X not set: the
// next role runs on this machine) it is a temp file renamed into place. The flag carries no
// payload: the receiver sweeps its input directories.
//
// The original's sends could hang forever and a failed one was never repeated: here every send has
// a timeout and bounded retries of transient failures; a failed send is reported to the caller,
// which logs, alerts and sends again at each rescan until it works.
import {unlink} from 'node:fs/promises'
import {join} from 'node:path'

import type {HostConfig} from '../config/schema.js'
import {run, withRetry} from '../exec.js'
import {writeFileAtomic} from '../fs/atomic.js'
import {remotePath, RSYNC_RUN_CODES, rsyncRemoteShell} from '../transport/ssh-args.js'

export interface FlagRoute {
  /** The flag's file name, e.g. `.site-linux_flag_sas`. */
  name: string
  /** This host's flags directory (absolute), where the flag is touched before sending. */
  localDirectory: string
  /** The receiver's watch directory: absolute, or relative to the remote user's home (`~/x` in the config). */
  destinationDirectory: string
  /** The receiving host; null when the next role runs on this machine (local delivery). */
  host: HostConfig | null
  /** Where the host sits in the config, for messages. */
  hostKey: string
}

/** The flag a role reacts to, in its watch directory. */
export interface IncomingFlag {
  directory: string
  name: string
}

/** Timeouts and retries of a flag delivery. */
export interface FlagSettings {
  timeouts: {sshConnectSeconds: number; ioSeconds: number}
  retry: {attempts: number; initialDelayMs: number; maxDelayMs: number}
}

export interface SendFlagOptions {
  settings: FlagSettings
  signal?: AbortSignal
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/** `rsync … <flag> user@host:<dir>/` over ssh with the product's host-key checking; pure. */
export function flagRsyncArgv(route: FlagRoute & {host: HostConfig}, localFlag: string, timeouts: FlagSettings['timeouts']): string[] {
  const shell = rsyncRemoteShell(route.host, {connectTimeoutSeconds: timeouts.sshConnectSeconds, configKey: route.hostKey})
  return [
    'rsync',
    '--protect-args',
    '--ignore-times',
    '--times',
    // The receiver's watch directory may not exist yet on a fresh host.
    '--mkpath',
    `--timeout=${Math.max(1, Math.ceil(timeouts.ioSeconds))}`,
    '-e', shell,
    '--', localFlag, remotePath(route.host, `${route.destinationDirectory.replace(/\/+$/, '')}/`),
  ]
}

/**
 * Touches the flag in this host's flags directory and delivers it; returns where it went.
 * Throws (after bounded retries of transient failures) when it could not be delivered.
 */
export async function sendFlag(route: FlagRoute, options: SendFlagOptions): Promise<string> {
  const {settings, signal} = options
  const localFlag = join(route.localDirectory, route.name)
  // The original `touch`ed the flag before sending: a fresh mtime each time.
  await writeFileAtomic(localFlag, '', {overwrite: true, mode: 0o664})
  if (route.host === null) {
    const target = join(route.destinationDirectory, route.name)
    // Temp name → fsync → rename over any earlier flag: the watcher sees IN_MOVED_TO.
    await writeFileAtomic(target, '', {overwrite: true, mode: 0o664})
    return target
  }
  const host = route.host
  const argv = flagRsyncArgv({...route, host}, localFlag, settings.timeouts)
  const timeoutMs = (settings.timeouts.sshConnectSeconds + settings.timeouts.ioSeconds) * 1000
  await withRetry(() => run(argv, {timeoutMs, signal, ...RSYNC_RUN_CODES}), {...settings.retry, signal, onRetry: options.onRetry})
  return remotePath(host, join(route.destinationDirectory, route.name))
}

/** Removes a received flag (the original's `rm -f`); true when there was one. Other errors are thrown. */
export async function consumeFlag(directory: string, name: string): Promise<boolean> {
  try {
    await unlink(join(directory, name))
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}
