// `dataflow doctor`: can this host run dataflow? Each check exercises the real thing once (render
// text with the bundled font, write and re-read an HDF5 file, receive an inotify event) rather
// than only loading a module, because the failures we fear load fine and then misbehave: a
// font-less host renders boxes with exit code 0. Heavy modules are imported inside the checks.
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {constants} from 'node:fs'
import {access, stat} from 'node:fs/promises'

import {buildInfo} from '../lib/build-info.js'
import type {LoadedConfig} from '../lib/config/load.js'
import type {Role} from '../lib/config/schema.js'
import {loadInotify, type InotifyEvent} from '../lib/daemon/watch.js'
import {ConfigError, DataflowError, EXIT, oneLine} from '../lib/errors.js'
import {findOnPath} from '../lib/exec.js'
import {resolveRoleLayout} from './layout.js'

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface DoctorCheck {
  /** Stable identifier, part of the `--json` contract: sharp-text, hdf5, inotify, tool:<name>, config, build. */
  id: string
  status: CheckStatus
  /** False only for status 'fail'. */
  ok: boolean
  /** A failed required check makes doctor exit 5. */
  required: boolean
  detail: string
  durationMs: number
}

export interface DoctorOptions {
  /** Loads the configuration the way commands do (flags, environment, file). */
  loadConfig: () => LoadedConfig
  /** PATH to search for external tools (default $PATH). */
  path?: string
  /** How long to wait for the inotify event. */
  inotifyTimeoutMs?: number
  /** Also check the directories of this role's layout (for this radar): each exists and is writable. */
  role?: {role: Role; radar: string}
}

/** Tools the data path spawns; a missing optional one degrades speed, not function. */
export const EXTERNAL_TOOLS: ReadonlyArray<{name: string; required: boolean; why: string}> = [
  {name: 'rsync', required: true, why: 'transfers between hosts'},
  {name: 'ssh', required: true, why: 'transport for rsync and remote commands'},
  {name: 'bzip2', required: true, why: 'compresses and decompresses data files'},
  {name: 'lbzip2', required: false, why: 'parallel bzip2, about 3x faster; bzip2 is used without it'},
]

export class DoctorFailedError extends DataflowError {
  readonly exitCode = EXIT.UNREACHABLE
  constructor(readonly failed: readonly DoctorCheck[]) {
    super(`${failed.length} required check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.id).join(', ')}`)
  }
}

type Outcome = {status: CheckStatus; detail: string}

async function timed(id: string, required: boolean, body: () => Promise<Outcome> | Outcome): Promise<DoctorCheck> {
  const started = Date.now()
  let outcome: Outcome
  try {
    outcome = await body()
  } catch (error) {
    outcome = {status: 'fail', detail: oneLine(error)}
  }
  const status = outcome.status === 'fail' && !required ? 'warn' : outcome.status
  return {id, status, ok: status !== 'fail', required, detail: outcome.detail, durationMs: Date.now() - started}
}

/** h5wasm throws strings; turn anything thrown into an Error with a message. */
function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown))
}

async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dataflow-doctor-'))
  try {
    return await body(dir)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

async function checkSharpText(): Promise<Outcome> {
  const {probeTextRendering} = await import('../plotting/text-probe.js')
  const probe = await probeTextRendering()
  const summary =
    `'${probe.narrow.text}' ${probe.narrow.inkWidth} px vs '${probe.wide.text}' ${probe.wide.inkWidth} px wide ` +
    `(ratio ${probe.widthRatio}); fontconfig ${probe.fontconfigFile}`
  if (!probe.realGlyphs) return {status: 'fail', detail: `text renders as boxes or not at all: ${summary}`}
  if (!probe.matchesDejaVu) return {status: 'warn', detail: `real glyphs, but not ${probe.fontFamily} metrics: ${summary}`}
  return {status: 'ok', detail: `${probe.fontFamily} renders: ${summary}`}
}

async function checkHdf5(): Promise<Outcome> {
  return withTempDir(async (dir) => {
    const h5 = await import('h5wasm/node')
    try {
      await h5.ready
      const file = join(dir, 'doctor.h5')
      const written = Float32Array.from([1.5, -2.25, 3e-7, 65504])
      const out = new h5.File(file, 'w')
      try {
        out.create_dataset({name: 'data', data: written, shape: [2, 2], dtype: '<f4'})
        out.create_attribute('origin', 'dataflow doctor')
      } finally {
        out.close()
      }
      const back = new h5.File(file, 'r')
      try {
        const dataset = back.get('data') as InstanceType<typeof h5.Dataset> | null
        const value = dataset?.value
        const shape = dataset?.shape?.join('x')
        const origin = back.get_attribute('origin', false)
        const same = value instanceof Float32Array && value.length === written.length && value.every((v, i) => v === written[i])
        if (!same || shape !== '2x2' || origin !== 'dataflow doctor') {
          return {status: 'fail', detail: `read back differs: shape ${shape}, value ${JSON.stringify(value)}, attribute ${JSON.stringify(origin)}`}
        }
      } finally {
        back.close()
      }
      return {status: 'ok', detail: `wrote and re-read a 2x2 float32 dataset and a string attribute (${statSync(file).size} bytes)`}
    } catch (thrown) {
      throw asError(thrown)
    }
  })
}

async function checkInotify(timeoutMs: number): Promise<Outcome> {
  const {Inotify} = loadInotify()
  return withTempDir(async (dir) => {
    const inotify = new Inotify()
    try {
      const received = new Promise<InotifyEvent>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no IN_CLOSE_WRITE event within ${timeoutMs} ms`)), timeoutMs)
        inotify.addWatch({
          path: dir,
          watch_for: Inotify.IN_CLOSE_WRITE,
          callback: (event) => {
            if (event.name === 'probe.dat' && event.mask & Inotify.IN_CLOSE_WRITE) {
              clearTimeout(timer)
              resolve(event)
            }
          },
        })
      })
      const started = Date.now()
      writeFileSync(join(dir, 'probe.dat'), 'dataflow doctor\n')
      const event = await received
      return {status: 'ok', detail: `IN_CLOSE_WRITE for ${event.name} after ${Date.now() - started} ms`}
    } finally {
      inotify.close()
    }
  })
}


function checkConfig(load: () => LoadedConfig): Outcome {
  try {
    const {config, source} = load()
    const radar = config.radar ? `, radar ${config.radar}` : ''
    return {status: 'ok', detail: `valid (${source ?? 'built-in defaults, no config file'}${radar})`}
  } catch (error) {
    if (error instanceof ConfigError) {
      return {status: 'fail', detail: [error.message, ...error.problems].join('; ')}
    }
    throw error
  }
}

/** Every directory the role writes exists, is a directory and is writable by this user. */
async function checkRoleDirectories(load: () => LoadedConfig, role: Role, radar: string): Promise<DoctorCheck[]> {
  const layout = resolveRoleLayout(load().config, role, radar)
  const checks: DoctorCheck[] = []
  for (const dir of layout.writes) {
    checks.push(
      await timed(`dir:${dir}`, true, async () => {
        const info = await stat(dir)
        if (!info.isDirectory()) return {status: 'fail', detail: 'exists but is not a directory'}
        await access(dir, constants.W_OK)
        return {status: 'ok', detail: `writable (${role} writes here)`}
      }),
    )
  }
  return checks
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = []
  checks.push(
    await timed('build', false, async () => {
      const info = await buildInfo()
      return {
        status: 'ok',
        detail: `dataflow ${info.version} (commit ${info.commit}, built ${info.date}) on node ${process.version} ${process.platform}-${process.arch}`,
      }
    }),
  )
  checks.push(await timed('config', true, () => checkConfig(options.loadConfig)))
  // One after the other: each loads a large module, and a failure should not hide another's cause.
  checks.push(await timed('sharp-text', true, checkSharpText))
  checks.push(await timed('hdf5', true, checkHdf5))
  checks.push(await timed('inotify', true, () => checkInotify(options.inotifyTimeoutMs ?? 5000)))
  for (const tool of EXTERNAL_TOOLS) {
    checks.push(
      await timed(`tool:${tool.name}`, tool.required, () => {
        const found = findOnPath(tool.name, options.path)
        return found ? {status: 'ok', detail: found} : {status: 'fail', detail: `not found on PATH (${tool.why})`}
      }),
    )
  }
  if (options.role) checks.push(...(await checkRoleDirectories(options.loadConfig, options.role.role, options.role.radar)))
  return checks
}

export function formatDoctorReport(checks: readonly DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.id.length))
  const lines = checks.map((c) => `${c.status.toUpperCase().padEnd(5)}${c.id.padEnd(width + 2)}${c.detail}`)
  // Failures are summed up by the error message (stderr) that sets the exit code.
  const warned = checks.filter((c) => c.status === 'warn').length
  if (checks.every((c) => c.ok)) lines.push('', `all required checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}`)
  return lines.join('\n')
}
