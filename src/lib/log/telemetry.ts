// Pushes a stage's summary file to the telemetry host, where the
// log parser expects `<telemetryDir>/<rad>/<stage>/<summary file name>`, mtime preserved.
//
// Contract:
// - The destination ends in `/` and rsync runs with --mkpath, so the per-stage directory is
//   created when missing and the summary lands inside it (the original's destination had no
//   trailing slash, so on a new site rsync wrote a FILE named after the directory every day:
//   docs/design.md#telemetry-file-not-dir).
// - Idempotent: pushing the same file again replaces the copy (rsync's temp-name-then-rename).
// - Bounded, so a hung connection cannot hold the stage: ssh ConnectTimeout, rsync --timeout and
//   a hard process timeout (docs/design.md#no-timeouts).
// - Never throws: telemetry must not fail a stage. A failure is returned for the caller to log.
//   Requires rsync >= 3.2.3 on both ends (--mkpath); an older remote fails with a usage error code.
import {basename} from 'node:path'

import type {HostConfig} from '../config/schema.js'
import {oneLine} from '../errors.js'
import {run} from '../exec.js'
import {remotePath, RSYNC_RUN_CODES, rsyncRemoteShell} from '../transport/ssh-args.js'

export interface PushSummaryOptions {
  /** Local summary file (absolute path). */
  summaryFile: string
  /** hosts.telemetry. */
  host: HostConfig
  /** telemetry.directory on the telemetry host (absolute). */
  telemetryDir: string
  radar: string
  /** The original script name the parser groups by, e.g. `rsync_to_nas`. */
  stage: string
  timeouts: {sshConnectSeconds: number; telemetrySeconds: number}
  signal?: AbortSignal
}

export type PushSummaryResult = {ok: true; destination: string} | {ok: false; destination: string; error: string}

/** A radar id or stage name becomes a directory name: one safe path component, never `..`. */
const COMPONENT = /^[A-Za-z0-9_-]+$/

export function telemetryDestination(telemetryDir: string, radar: string, stage: string): string {
  const dir = telemetryDir.replace(/\/+$/, '')
  return `${dir}/${radar}/${stage}/`
}

export async function pushSummary(options: PushSummaryOptions): Promise<PushSummaryResult> {
  const {host, radar, stage, timeouts} = options
  const dir = telemetryDestination(options.telemetryDir, radar, stage)
  const destination = `${host.target}:${dir}`
  try {
    if (!COMPONENT.test(radar)) throw new Error(`radar "${radar}" is not a plain directory name`)
    if (!COMPONENT.test(stage)) throw new Error(`stage "${stage}" is not a plain directory name`)
    if (!options.telemetryDir.startsWith('/')) throw new Error(`telemetry.directory "${options.telemetryDir}" must be absolute`)
    if (!options.summaryFile.startsWith('/') || basename(options.summaryFile) === '') {
      throw new Error(`summary file "${options.summaryFile}" must be an absolute file path`)
    }
    const shell = rsyncRemoteShell(host, {connectTimeoutSeconds: timeouts.sshConnectSeconds, configKey: 'hosts.telemetry'})
    const argv = [
      'rsync',
      '--archive',
      '--mkpath',
      // Remote path sent inside rsync's protocol, not parsed by the remote shell.
      '--protect-args',
      `--timeout=${Math.max(1, Math.ceil(timeouts.telemetrySeconds))}`,
      ...(host.bandwidthLimitKBps > 0 ? [`--bwlimit=${host.bandwidthLimitKBps}`] : []),
      '-e', shell,
      '--',
      options.summaryFile,
      remotePath(host, dir),
    ]
    await run(argv, {timeoutMs: timeouts.telemetrySeconds * 1000, signal: options.signal, ...RSYNC_RUN_CODES})
    return {ok: true, destination}
  } catch (error) {
    return {ok: false, destination, error: oneLine(error)}
  }
}
