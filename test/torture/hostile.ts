// Hostile names in a stage's input directories, beside the good inputs: spaces, a newline, a
// leading '-', unicode, a 250-character name, '..' in names, a symlink pointing out of the
// directory, a 0-byte file, a name outside the Borealis naming rule, a file still being written
// (appended to every few ms while the stage runs). Invariant: none is lost, none deleted without
// a verified copy, nothing written outside the configured directories (the parent of the world is
// compared before and after; the symlink's target outside must be untouched), and every good file
// still flows. What the stage did with each name (moved / quarantined with a reason / left in
// place) is recorded and printed.
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {FIXTURES} from '../helpers/cli.js'
import {check, emptyViolations, type Input, mergeViolations, scan, sha256} from './invariant.js'
import {runStageToEnd} from './proc.js'
import {countsOf, failed, prng, subSeed, type SuiteContext, type TrialResult, violationDetails} from './trials.js'
import {allowedPaths, buildWorld, nameTime, type StageKind} from './world.js'

const GROWING = '20231004.1400.00.sas.4.rawacf.h5'

/** The hostile names, each with the directory kind it goes into. */
function hostileNames(): Array<{name: string; into: 'h5' | 'bz2'; bytes?: 'empty' | 'dmap'}> {
  return [
    {name: 'name with spaces.rawacf.h5', into: 'h5'},
    {name: 'new\nline.rawacf.h5', into: 'h5'},
    {name: '-rf --leading-dash.rawacf.h5', into: 'h5'},
    {name: 'ünïcødé-радар-雷达.rawacf.h5', into: 'h5'},
    {name: `${'L'.repeat(240)}.rawacf.h5`, into: 'h5'},
    {name: 'dots..in..name.rawacf.h5', into: 'h5'},
    {name: '..leading-dots.rawacf.h5', into: 'h5'},
    {name: '20231004.1400.00.sas.2.rawacf.h5', into: 'h5', bytes: 'empty'},
    // Outside the naming rule, but a valid DMAP stream (so it gets past the bzip2 and DMAP checks).
    {name: 'sas.a.rawacf.bz2', into: 'bz2', bytes: 'dmap'},
  ]
}

/** Deterministic chunk `n` of the growing file. */
function chunk(seed: number, n: number): Buffer {
  const block = createHash('sha256').update(`${seed}:${n}`).digest()
  return Buffer.concat(Array.from({length: 128}, () => block))
}

const WRITER = `
const fs = require('node:fs')
const [path, seed, interval] = process.argv.slice(1)
const crypto = require('node:crypto')
const chunk = (n) => { const b = crypto.createHash('sha256').update(seed + ':' + n).digest(); return Buffer.concat(Array.from({length: 128}, () => b)) }
const fd = fs.openSync(path, 'a')
let n = 0
fs.writeSync(fd, chunk(n++))
const timer = setInterval(() => fs.writeSync(fd, chunk(n++)), Number(interval))
process.on('SIGTERM', () => { clearInterval(timer); fs.closeSync(fd); process.stdout.write('chunks ' + n + '\\n'); process.exit(0) })
process.stdout.write('ready\\n')
`

/** A writer appending a 4 KiB chunk every `intervalMs` to `path` until stop(); stop() returns the chunks written. */
function startWriter(path: string, seed: number, intervalMs: number): Promise<{stop: () => Promise<number>}> {
  const child = spawn(process.execPath, ['-e', WRITER, path, String(seed), String(intervalMs)], {stdio: ['ignore', 'pipe', 'inherit']})
  let out = ''
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('ready')) {
        resolve({
          stop: () =>
            new Promise((done) => {
              child.once('close', () => done(Number(/chunks (\d+)/.exec(out)?.[1] ?? 0)))
              child.kill('SIGTERM')
            }),
        })
      }
    })
    child.once('error', reject)
  })
}

/** Every file below `dir` except `skip`, with its hash (the stray-file check of the world's parent). */
function listing(dir: string, skip: string): Map<string, string> {
  const {files, symlinks} = scan([{path: dir, kind: 'final'}])
  const out = new Map<string, string>()
  for (const [path, file] of files) if (!path.startsWith(`${skip}/`)) out.set(path, file.sha256)
  for (const [path, target] of symlinks) if (!path.startsWith(`${skip}/`)) out.set(path, `-> ${target}`)
  return out
}

interface StageJson {
  files?: Array<{source?: string; file?: string; outcome?: string; reason?: string; destination?: string; route?: string}>
  skipped?: Array<{file: string; reason: string}>
  error?: {message: string}
}

function parseJson(stdout: string): StageJson {
  try {
    return JSON.parse(stdout) as StageJson
  } catch {
    return {}
  }
}

export async function hostileTrial(stage: StageKind, ctx: SuiteContext): Promise<TrialResult> {
  const started = performance.now()
  const id = `hostile ${stage}`
  const parent = join(ctx.root, `hostile-${stage}`)
  const world = await buildWorld(stage, join(parent, 'world'), ctx)
  const rng = prng(subSeed(ctx.seed, id, 0))
  const random = (n: number) => Buffer.from(Array.from({length: n}, () => Math.floor(rng() * 256)))
  const dirOf = (into: 'h5' | 'bz2') => world.inputDirs[into]
  const hostile: Input[] = []
  const place = (dir: string, name: string, bytes: Buffer): Input => {
    mkdirSync(dir, {recursive: true})
    const source = join(dir, name)
    writeFileSync(source, bytes)
    utimesSync(source, nameTime(name), nameTime(name))
    const input: Input = {name, source, sha256: sha256(bytes), expect: [], outputs: {}, good: false}
    hostile.push(input)
    return input
  }
  const dmapStream = readFileSync(join(FIXTURES, 'dmap', 'test.rawacf.bz2'))
  for (const {name, into, bytes} of hostileNames()) place(dirOf(into), name, bytes === 'empty' ? Buffer.alloc(0) : bytes === 'dmap' ? dmapStream : random(8192 + Math.floor(rng() * 8192)))
  // A symlink out of the directory, to a file the stage must never touch.
  const outside = join(parent, 'outside')
  mkdirSync(outside, {recursive: true})
  const target = join(outside, 'target.rawacf.h5')
  const targetBytes = random(12_000)
  writeFileSync(target, targetBytes)
  const link = join(dirOf('h5'), 'link-out.rawacf.h5')
  symlinkSync(target, link)
  hostile.push({name: 'link-out.rawacf.h5', source: link, sha256: sha256(targetBytes), expect: [], outputs: {}, good: false, symlinkTarget: target})
  // The file still being written.
  const growingSeed = subSeed(ctx.seed, `${id} growing`, 0)
  const growing = join(dirOf('h5'), GROWING)
  writeFileSync(growing, '')
  const growingInput: Input = {name: GROWING, source: growing, sha256: '', expect: [], outputs: {}, good: false}
  hostile.push(growingInput)
  world.inputs.push(...hostile)

  const before = listing(parent, world.dir)
  const violations = emptyViolations()
  const jsonArgs = [...world.args, '--json']

  // Run 1: with the writer appending.
  const writer = await startWriter(growing, growingSeed, 5)
  const first = await runStageToEnd(jsonArgs, {env: world.env})
  const chunks = await writer.stop()
  growingInput.sha256 = sha256(Buffer.concat(Array.from({length: chunks}, (_, n) => chunk(growingSeed, n))))
  mergeViolations(violations, check(world.inputs, world.roots, {phase: 'kill', base: world.dir}).violations, 'first run')
  // The writer is done: as if it closed the file long ago (the settle time of rsync-to-nas).
  if (existsSync(growing)) utimesSync(growing, nameTime(GROWING), nameTime(GROWING))

  // Run 2: everything settled.
  const second = await runStageToEnd(jsonArgs, {env: world.env})
  const final = check(world.inputs, world.roots, {phase: 'final', base: world.dir})
  mergeViolations(violations, final.violations, 'second run')
  violations.temps = final.violations.temps

  // Nothing outside the configured directories: the world's parent as before, the target as it was.
  const after = listing(parent, world.dir)
  for (const [path, hash] of after) if (before.get(path) !== hash) violations.partial_visible.push(`${relative(parent, path)}: written outside the world (${before.has(path) ? 'changed' : 'new'})`)
  for (const path of before.keys()) if (!after.has(path)) violations.lost.push(`${relative(parent, path)}: removed from outside the world`)
  if (sha256(readFileSync(target)) !== sha256(targetBytes)) violations.corrupt.push('the symlink target outside the world changed')
  const allowed = allowedPaths(world)
  for (const path of scan([{path: world.dir, kind: 'final'}]).files.keys()) {
    if (!allowed.some((dir) => path === dir || path.startsWith(`${dir}/`))) violations.partial_visible.push(`${relative(world.dir, path)}: outside the configured directories`)
  }

  // What happened to each hostile name.
  const json = [parseJson(first.run.stdout()), parseJson(second.run.stdout())]
  const snapshot = final.snapshot
  const details: string[] = []
  for (const input of hostile) {
    const label = JSON.stringify(input.name).length > 60 ? `${JSON.stringify(input.name).slice(0, 28)}…(${input.name.length} chars)` : JSON.stringify(input.name)
    const reasons = json.flatMap((j) => [
      ...(j.files ?? []).filter((f) => (f.source ?? f.file) === input.source).map((f) => `${f.outcome}${f.route ? ` to ${f.route}` : ''}${f.reason ? `: ${f.reason}` : ''}`),
      ...(j.skipped ?? []).filter((f) => f.file === input.source).map((f) => `skipped: ${f.reason}`),
    ])
    const left = input.symlinkTarget ? snapshot.symlinks.has(input.source) : snapshot.files.get(input.source)?.sha256 === input.sha256
    const copies = [...snapshot.files.values()].filter((f) => f.path !== input.source && !f.hidden && f.sha256 === input.sha256)
    const where = left
      ? 'left in place'
      : copies.length > 0
        ? `${copies.some((f) => f.root.kind === 'quarantine') ? 'quarantined' : 'moved'} → ${copies.map((f) => printable(relative(world.dir, f.path))).join(', ')}`
        : 'GONE'
    const reasonFile = copies.map((f) => `${f.path}.reason`).find((p) => existsSync(p))
    const why = reasons.at(-1) ?? (reasonFile ? readFileSync(reasonFile, 'utf8').trim().replace(/^\S+ /, '') : '')
    details.push(`    ${label.padEnd(44)} ${where}${why ? ` (${oneLine(why.replaceAll(`${world.dir}/`, ''), 150)})` : ''}`)
  }
  details.push(`    growing file: ${chunks} chunks of 4 KiB appended during run 1`)
  details.push(...violationDetails(violations))
  if (violations.temps.length > 0) details.push(`    temp files left: ${violations.temps.map((t) => JSON.stringify(t).slice(0, 80)).join(', ')}`)
  const said = (j: StageJson) => (j.error ? ` (${oneLine(j.error.message.replaceAll(`${world.dir}/`, ''), 120)})` : '')
  const runs = `run 1 exit=${first.exit.code}${said(json[0]!)}, run 2 exit=${second.exit.code}${said(json[1]!)}`
  if (failed(violations)) details.push(`    kept: ${ctx.keepFailed(parent, id)}`)
  const line = `${id.padEnd(40)} ${hostile.length} hostile names; ${runs}  ${countsOf(violations)}  (${((performance.now() - started) / 1000).toFixed(1)} s)`
  return {id, type: 'hostile', stage, violations, line, details, ms: performance.now() - started}
}

/** One line of at most `max` characters; a long text keeps its end (where the cause is). */
const oneLine = (text: string, max: number) => {
  const flat = text.replace(/\s*\n\s*/g, ' ')
  return flat.length > max ? `${flat.slice(0, 40)}…${flat.slice(-(max - 41))}` : flat
}

/** A path as printed: JSON-quoted when it holds control characters (a newline in a name). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const printable = (path: string) => (/[\x00-\x1f]/.test(path) ? JSON.stringify(path) : path)
