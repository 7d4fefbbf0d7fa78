// What this program is: version, git commit and build time. The executable build
// (scripts/pkg-build.ts) replaces __DATAFLOW_BUILD__ through esbuild `define`; from the sources
// (bin/dev.js, tests) the identifier does not exist and the values are read from the repository.
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {run} from './exec.js'

export interface BuildInfo {
  version: string
  /** Short git commit, or 'unknown'. */
  commit: string
  /** Build time, ISO 8601 UTC; 'unknown' when running from the sources. */
  date: string
}

declare const __DATAFLOW_BUILD__: BuildInfo | undefined

/** True inside the bundle of the single executable. */
export function isBundled(): boolean {
  return typeof __DATAFLOW_BUILD__ !== 'undefined'
}

let devInfo: Promise<BuildInfo> | undefined

export function buildInfo(): Promise<BuildInfo> {
  if (typeof __DATAFLOW_BUILD__ !== 'undefined') return Promise.resolve(__DATAFLOW_BUILD__)
  devInfo ??= fromRepository()
  return devInfo
}

async function fromRepository(): Promise<BuildInfo> {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  let version = 'unknown'
  try {
    version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {version?: string}).version ?? 'unknown'
  } catch {}
  let commit = 'unknown'
  try {
    const result = await run(['git', 'rev-parse', '--short', 'HEAD'], {cwd: repo, timeoutMs: 5000})
    commit = result.stdout.trim() || 'unknown'
  } catch {
    // Not a checkout, or git is not installed: the commit is simply unknown.
  }
  return {version, commit, date: 'unknown'}
}
