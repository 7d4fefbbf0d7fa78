// Benchmarks, as named cases: `npm run bench` runs all, `npm run bench -- startup` one or more.
// Results print as a table. Wall times use hyperfine (-N: no shell) when it is on PATH, else an
// in-process loop of spawnSync; the table says which.
//
//   startup  dist/dataflow --help/--version with a warm cache, the first run (which extracts the
//            payload into a fresh cache), and `node -e 0` as the floor.
//   build    one full `scripts/pkg-build.ts` build, per step.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

import {BINARY, buildExecutable, buildIfStale} from './pkg-build.js'

interface Row {
  case: string
  what: string
  runs: number
  meanMs: number
  medianMs: number
  minMs: number
  maxMs: number
  method: string
}

type Case = () => Promise<Row[]>

function stats(what: string, caseName: string, timesMs: number[], method: string): Row {
  const sorted = [...timesMs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return {
    case: caseName,
    what,
    runs: sorted.length,
    meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    medianMs: median,
    minMs: sorted[0]!,
    maxMs: sorted.at(-1)!,
    method,
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name)
    try {
      if (statSync(candidate).isFile()) return candidate
    } catch {}
  }
  return undefined
}

/** Wall time of one run, in ms; the command must exit 0. */
function timeOnce(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const [command, ...args] = argv as [string, ...string[]]
  const started = process.hrtime.bigint()
  const result = spawnSync(command, args, {env, stdio: ['ignore', 'ignore', 'pipe']})
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`${argv.join(' ')}: exit ${result.status ?? result.signal}: ${result.stderr.toString()}`)
  return ms
}

/** Repeated runs with warm-up: hyperfine when available, else a loop. */
function measure(caseName: string, what: string, argv: readonly string[], env: NodeJS.ProcessEnv, runs = 20, warmup = 3): Row {
  const hyperfine = onPath('hyperfine')
  if (hyperfine && argv.every((a) => !/\s/.test(a))) {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-bench-'))
    try {
      const json = join(dir, 'result.json')
      const result = spawnSync(
        hyperfine,
        ['-N', '--style', 'none', '--warmup', String(warmup), '--runs', String(runs), '--export-json', json, argv.join(' ')],
        {env, stdio: ['ignore', 'ignore', 'pipe']},
      )
      if (result.status !== 0) throw new Error(`hyperfine ${argv.join(' ')}: ${result.stderr.toString()}`)
      const times = (JSON.parse(readFileSync(json, 'utf8')) as {results: Array<{times: number[]}>}).results[0]!.times
      return stats(what, caseName, times.map((s) => s * 1000), 'hyperfine -N')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }
  for (let i = 0; i < warmup; i++) timeOnce(argv, env)
  return stats(what, caseName, Array.from({length: runs}, () => timeOnce(argv, env)), 'spawnSync loop')
}

/** A clean environment like a service's: no NODE_* variables, a private cache. */
function cleanEnv(cache: string): NodeJS.ProcessEnv {
  return {PATH: process.env.PATH, HOME: process.env.HOME, DATAFLOW_CACHE_DIR: cache}
}

const CASES: Record<string, Case> = {
  async startup() {
    const built = await buildIfStale()
    if (built) process.stderr.write(`(re)built ${BINARY} first\n`)
    const scratch = mkdtempSync(join(tmpdir(), 'dataflow-bench-'))
    try {
      const warm = join(scratch, 'warm')
      const env = cleanEnv(warm)
      timeOnce([BINARY, '--version'], env) // extract once
      const rows = [
        measure('startup', 'node -e 0 (floor)', [process.execPath, '-e', '0'], env),
        measure('startup', 'dataflow --version (warm)', [BINARY, '--version'], env),
        measure('startup', 'dataflow --help (warm)', [BINARY, '--help'], env),
      ]
      // First runs: every run gets a fresh cache, so every run extracts the payload.
      const cold: number[] = []
      for (let i = 0; i < 8; i++) cold.push(timeOnce([BINARY, '--help'], cleanEnv(join(scratch, `cold-${i}`))))
      rows.push(stats('dataflow --help (first run, extracts)', 'startup', cold, 'spawnSync loop'))
      process.stderr.write(`binary: ${(statSync(BINARY).size / 1e6).toFixed(1)} MB (${statSync(BINARY).size} bytes)\n`)
      return rows
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  },

  async build() {
    const result = await buildExecutable(() => {})
    const rows: Row[] = Object.entries(result.seconds).map(([step, s]) => stats(`pkg-build: ${step}`, 'build', [s * 1000], 'one build'))
    process.stderr.write(
      `binary: ${(result.binaryBytes / 1e6).toFixed(1)} MB; bundle ${(result.bundleBytes / 1e6).toFixed(2)} MB; ` +
        `payload ${result.files} files, ${(result.rawBytes / 1e6).toFixed(1)} MB -> ${(result.payloadBytes / 1e6).toFixed(1)} MB\n`,
    )
    return rows
  },
}

function printTable(rows: readonly Row[]): void {
  const header = ['case', 'what', 'runs', 'mean ms', 'median ms', 'min ms', 'max ms', 'method']
  const body = rows.map((r) => [
    r.case,
    r.what,
    String(r.runs),
    r.meanMs.toFixed(0),
    r.medianMs.toFixed(0),
    r.minMs.toFixed(0),
    r.maxMs.toFixed(0),
    r.method,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const numeric = new Set([2, 3, 4, 5, 6])
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of body) console.log(line(row))
}

const selected = process.argv.slice(2)
const unknown = selected.filter((name) => !(name in CASES))
if (unknown.length > 0) {
  console.error(`unknown case(s): ${unknown.join(', ')}; cases: ${Object.keys(CASES).join(', ')}`)
  process.exit(2)
}
const rows: Row[] = []
for (const name of selected.length > 0 ? selected : Object.keys(CASES)) rows.push(...(await CASES[name]!()))
printTable(rows)
