// The torture suite: clean calibration runs, SIGKILL trials, fault scenarios and hostile names,
// each checked against the no-loss invariant (./invariant.ts) on real directory trees, with real
// rsync, ssh and sshd. Used by scripts/torture.ts (full run) and test/torture.integration.test.ts
// (short run).
//
// A SIGKILL trial: a fresh world; the stage started as a child process in its own process group;
// SIGKILL to the group at a random instant; the invariant "at that instant" (after the group is
// gone); the same stage run again to completion; the final invariant (every good input at all its
// final places). The instant is drawn against the calibrated clean run of the stage:
//   work     (3/5) uniform in [0, W] after the stage's `stage.start` event, W = the clean run's
//                  stage.start → exit time (the stage's own work);
//   publish  (1/4) right after the k-th file appeared under a final (non-hidden) name in the
//                  world, k uniform in [1, P], P = files published by the clean run (seen with
//                  fs.watch): the crash points just after a rename/link, before the next step;
//   spawn    (3/20) uniform in [0, T] after spawn, T = the clean run's spawn → exit time
//                  (start-up, lock, logs).
// The draws come from a PRNG seeded by (seed, stage, trial number): --seed S --stage X replays
// the same draws (the instants themselves follow the machine's speed). A trial whose stage
// finished before its instant is still checked, and another trial of that stage is added, so
// that the suite makes the number of SIGKILLs asked for (at most half as many again).
import {chmodSync, type FSWatcher, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, watch} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {startSshd, type SshdHandle} from '../helpers/sshd.js'
import {check, COUNTED, emptyViolations, mergeViolations, type Violations} from './invariant.js'
import {runStageToEnd, spawnStage} from './proc.js'
import {buildWorld, needsSshd, type StageKind, type World, type WorldContext} from './world.js'

export interface TrialResult {
  id: string
  type: 'clean' | 'kill' | 'fault' | 'hostile'
  stage: StageKind
  violations: Violations
  /** The one-line summary printed for the trial. */
  line: string
  /** Further lines (per-name outcomes of a hostile trial, details of violations). */
  details: string[]
  ms: number
  killed?: boolean
  /** Fault scenarios: what the scenario requires of the stage, when it did not happen. */
  expectationFailures?: string[]
}

export interface SuiteOptions {
  seed: number
  /** SIGKILLs wanted, spread round-robin over the stages. */
  killTrials: number
  stages: readonly StageKind[]
  /** Fault scenarios to run (ids from FAULTS), or none. */
  faults: readonly string[]
  hostile: boolean
  /** Stages whose input directories get hostile names (default: every stage of `stages`). */
  hostileStages?: readonly StageKind[]
  jobs: number
  log: (line: string) => void
  /** Keep the sandbox even when every trial passed. */
  keep?: boolean
}

export interface SuiteResult {
  trials: TrialResult[]
  counts: Record<(typeof COUNTED)[number] | 'not_delivered' | 'fault_expectations_failed' | 'temps' | 'killed', number>
  finalLine: string
  ok: boolean
  root: string
  seconds: number
}

/** mulberry32: small, fast, good enough for picking instants. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A seed for (suite seed, label, n): FNV-1a over the text. */
export function subSeed(seed: number, label: string, n: number): number {
  let h = 0x811c9dc5
  for (const ch of `${seed}:${label}:${n}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0
  return h
}

export interface Calibration {
  /** spawn → exit of a clean run, ms. */
  total: number
  /** stage.start → exit of a clean run, ms. */
  work: number
  /** Files a clean run published under a final name. */
  publications: number
}

/**
 * Calls `onPublish(path)` each time a regular file appears under a visible name in one of the
 * world's roots (fs.watch, recursive: a rename or link onto a final name, a file created there).
 */
function watchPublications(world: World, onPublish: (path: string) => void): FSWatcher {
  const roots = world.roots.map((r) => r.path)
  const sources = new Set(world.inputs.map((i) => i.source))
  return watch(world.dir, {recursive: true}, (type, name) => {
    if (type !== 'rename' || !name) return
    const path = join(world.dir, name.toString())
    if (path.slice(path.lastIndexOf('/') + 1).startsWith('.') || sources.has(path)) return
    if (!roots.some((root) => path.startsWith(`${root}/`))) return
    try {
      if (lstatSync(path).isFile()) onPublish(path)
    } catch {
      // Gone again (a source deleted, a temp renamed away).
    }
  })
}

export interface Slot {
  index: number
  dir: string
}

export interface SuiteContext extends WorldContext {
  root: string
  seed: number
  calibration: Map<StageKind, Calibration>
  /** Moves a failed trial's directory aside (kept for inspection); returns where. */
  keepFailed: (dir: string, id: string) => string
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`

export function countsOf(v: Violations): string {
  const parts = [...COUNTED, 'not_delivered' as const].filter((k) => v[k].length > 0).map((k) => `${k}=${v[k].length}`)
  return parts.length === 0 ? 'ok' : `VIOLATION ${parts.join(' ')}`
}

export function violationDetails(v: Violations): string[] {
  return [...COUNTED, 'not_delivered' as const].flatMap((k) => v[k].map((item) => `    ${k}: ${item}`))
}

export function failed(v: Violations): boolean {
  return COUNTED.some((k) => v[k].length > 0) || v.not_delivered.length > 0
}

/** A clean run: builds the world, runs the stage to the end, checks the final invariant; measures the calibration. */
export async function cleanTrial(stage: StageKind, slot: Slot, ctx: SuiteContext): Promise<{result: TrialResult; calibration: Calibration}> {
  const started = performance.now()
  const id = `clean ${stage}`
  const world = await buildWorld(stage, join(slot.dir, stage), ctx)
  let publications = 0
  const watcher = watchPublications(world, () => publications++)
  const run = spawnStage(world.args, {env: world.env})
  const stageStart = await run.started
  const exit = await run.exited
  watcher.close()
  const calibration = {total: exit.at - run.spawnedAt, work: stageStart === null ? 0 : exit.at - stageStart, publications}
  const violations = emptyViolations()
  mergeViolations(violations, check(world.inputs, world.roots, {phase: 'final', base: world.dir}).violations, 'final')
  const details = violationDetails(violations)
  if (exit.code !== world.cleanExit) details.unshift(`    EXIT ${exit.code}, a clean run exits ${world.cleanExit}: ${run.stderr().trim().split('\n').at(-1) ?? ''}`)
  if (failed(violations) || exit.code !== world.cleanExit) details.push(`    kept: ${ctx.keepFailed(world.dir, id)}`)
  const line = `${id.padEnd(40)} exit=${exit.code} spawn→exit ${calibration.total.toFixed(0)} ms, stage.start→exit ${calibration.work.toFixed(0)} ms, ${publications} files published  ${countsOf(violations)}  (${fmt(performance.now() - started)})`
  return {result: {id, type: 'clean', stage, violations, line, details, ms: performance.now() - started}, calibration}
}

/** One SIGKILL trial (see the header). `n` is the stage's own trial number. */
export async function killTrial(stage: StageKind, n: number, slot: Slot, ctx: SuiteContext): Promise<TrialResult> {
  const started = performance.now()
  const id = `kill ${stage} #${n}`
  const rng = prng(subSeed(ctx.seed, stage, n))
  const pick = rng()
  const u = rng()
  const anchor = pick < 0.6 ? 'work' : pick < 0.85 ? 'publish' : 'spawn'
  const cal = ctx.calibration.get(stage)!
  const k = 1 + Math.floor(u * Math.max(1, cal.publications))
  const delay = anchor === 'publish' ? 0 : u * (anchor === 'work' ? cal.work : cal.total)

  const world = await buildWorld(stage, join(slot.dir, stage), ctx)
  let killed = false
  let published = 0
  // Assigned after the watcher that kills it is in place (so no publication is missed).
  // eslint-disable-next-line prefer-const
  let run: ReturnType<typeof spawnStage> | undefined
  // The k-th publication: SIGKILL from the watcher's callback, at once.
  const watcher =
    anchor === 'publish'
      ? watchPublications(world, () => {
          if (++published === k && run && !killed) {
            killed = true
            try {
              process.kill(-run.pid, 'SIGKILL')
            } catch {
              killed = false
            }
          }
        })
      : undefined
  run = spawnStage(world.args, {env: world.env})
  if (anchor === 'publish') {
    await run.exited
  } else {
    const t0 = anchor === 'work' ? await run.started : run.spawnedAt
    if (t0 !== null) {
      const wait = Math.max(0, t0 + delay - performance.now())
      const first = await Promise.race([sleep(wait).then(() => 'timer' as const), run.exited.then(() => 'exit' as const)])
      killed = first === 'timer'
    }
  }
  // Only once nothing of the group is left does the check look.
  if (killed) await run.killGroup()
  else await run.exited
  watcher?.close()
  const verifiedAtKill = run.events.filter((e) => e.event === 'transfer.verified').length
  const violations = emptyViolations()
  const atKill = check(world.inputs, world.roots, {phase: 'kill', base: world.dir})
  mergeViolations(violations, atKill.violations, 'at kill')
  const tempsAtKill = atKill.violations.temps.length

  const rerun = await runStageToEnd(world.args, {env: world.env})
  const final = check(world.inputs, world.roots, {phase: 'final', base: world.dir})
  mergeViolations(violations, final.violations, 'final')
  const leftovers = final.violations.temps
  violations.temps = leftovers

  const details = violationDetails(violations)
  if (rerun.exit.code !== 0 && rerun.exit.code !== 3) details.push(`    re-run exit ${rerun.exit.code}: ${rerun.run.stderr().trim().split('\n').at(-1) ?? ''}`)
  if (leftovers.length > 0) details.push(`    temp files left after the re-run: ${leftovers.join(', ')}`)
  if (failed(violations)) details.push(`    kept: ${ctx.keepFailed(world.dir, id.replace(/[ #]+/g, '-'))}`)
  const what = killed ? `killed after ${verifiedAtKill} verified copies, ${tempsAtKill} temp files` : `exited first (${(await run.exited).code})`
  const when = anchor === 'publish' ? `publish #${k}/${cal.publications}` : `${anchor}+${delay.toFixed(0)}ms`
  const line = `${id.padEnd(40)} u=${u.toFixed(3)} ${when} ${what}; re-run exit=${rerun.exit.code}  ${countsOf(violations)}  (${fmt(performance.now() - started)})`
  return {id, type: 'kill', stage, violations, line, details, ms: performance.now() - started, killed}
}

/** Runs `tasks` with `jobs` at a time (onDone may add more); each task gets a slot (its own directory) for its run. */
export async function pool<T>(tasks: Array<(slot: Slot) => Promise<T>>, jobs: number, root: string, onDone: (result: T) => void): Promise<T[]> {
  const results: T[] = []
  let next = 0
  const worker = async (index: number) => {
    const slot = {index, dir: join(root, `slot${index}`)}
    mkdirSync(slot.dir, {recursive: true})
    while (next < tasks.length) {
      const task = tasks[next++]!
      const result = await task(slot)
      results.push(result)
      onDone(result)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, jobs)}, (_, i) => worker(i)))
  return results
}

export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const started = performance.now()
  const root = mkdtempSync(join(tmpdir(), 'dataflow-torture-'))
  // The fault scenario run as nobody must reach its world.
  chmodSync(root, 0o755)
  const failedDir = join(root, 'failed')
  let anyKept = false
  const {faultTrial, FAULTS} = await import('./faults.js')
  const {hostileTrial} = await import('./hostile.js')
  const hostileStages = options.hostile ? (options.hostileStages ?? options.stages) : []
  const sshNeeded = [...options.stages, ...hostileStages].some(needsSshd) || options.faults.some((f) => FAULTS[f]?.needsSshd)
  let sshd: SshdHandle | undefined
  const ctx: SuiteContext = {
    root,
    seed: options.seed,
    refDir: join(root, 'refs'),
    calibration: new Map(),
    keepFailed(dir, id) {
      anyKept = true
      mkdirSync(failedDir, {recursive: true})
      const to = join(failedDir, id.replace(/[^A-Za-z0-9._-]+/g, '-'))
      rmSync(to, {recursive: true, force: true})
      renameSync(dir, to)
      return to
    },
  }
  const trials: TrialResult[] = []
  const print = (result: TrialResult) => {
    trials.push(result)
    options.log(result.line)
    for (const line of result.details) options.log(line)
  }
  try {
    if (sshNeeded) {
      sshd = await startSshd(join(root, 'sshd'))
      ctx.sshd = sshd
    }
    options.log(`torture: seed=${options.seed} kill trials=${options.killTrials} stages=${options.stages.join(',')} faults=${options.faults.length} hostile=${hostileStages.join(',') || 'none'} jobs=${options.jobs} sandbox=${root}`)
    // 1. Calibration: one clean run per stage (checked like any trial).
    await pool(
      options.stages.map((stage) => async (slot: Slot) => {
        const {result, calibration} = await cleanTrial(stage, slot, ctx)
        ctx.calibration.set(stage, calibration)
        return result
      }),
      options.jobs,
      root,
      print,
    )
    // 2. Faults and hostile names first (the longer trials), then the SIGKILL trials.
    const tasks: Array<(slot: Slot) => Promise<TrialResult>> = []
    for (const id of options.faults) tasks.push(() => faultTrial(id, ctx))
    for (const stage of hostileStages) tasks.push(() => hostileTrial(stage, ctx))
    const perStage = new Map<StageKind, number>()
    const addKill = (stage: StageKind) => {
      const n = perStage.get(stage) ?? 0
      perStage.set(stage, n + 1)
      tasks.push((slot) => killTrial(stage, n, slot, ctx))
    }
    for (let i = 0; i < options.killTrials; i++) addKill(options.stages[i % options.stages.length]!)
    let extra = 0
    await pool(tasks, options.jobs, root, (result) => {
      print(result)
      // The stage was faster than its instant: one more trial of it, so the SIGKILLs add up.
      if (result.type === 'kill' && !result.killed && extra < Math.ceil(options.killTrials / 2)) {
        extra++
        addKill(result.stage)
      }
    })
  } finally {
    await sshd?.stop()
  }
  const sum = (key: keyof Violations) => trials.reduce((n, t) => n + t.violations[key].length, 0)
  const counts: SuiteResult['counts'] = {
    lost: sum('lost'),
    corrupt: sum('corrupt'),
    partial_visible: sum('partial_visible'),
    deleted_unverified: sum('deleted_unverified'),
    not_delivered: sum('not_delivered'),
    fault_expectations_failed: trials.reduce((n, t) => n + (t.expectationFailures?.length ?? 0), 0),
    temps: sum('temps'),
    killed: trials.filter((t) => t.killed).length,
  }
  const seconds = (performance.now() - started) / 1000
  const ok = COUNTED.every((k) => counts[k] === 0) && counts.not_delivered === 0 && counts.fault_expectations_failed === 0
  options.log(
    `torture: ${trials.length} trials in ${seconds.toFixed(0)} s: ${counts.killed} SIGKILLed, ` +
      `not_delivered=${counts.not_delivered} fault_expectations_failed=${counts.fault_expectations_failed} temp_leftovers=${counts.temps}; ` +
      `replay: --seed ${options.seed}${anyKept ? `; failed trials kept in ${failedDir}` : ''}`,
  )
  const finalLine = `trials=${trials.length} lost=${counts.lost} corrupt=${counts.corrupt} partial_visible=${counts.partial_visible} deleted_unverified=${counts.deleted_unverified}`
  options.log(finalLine)
  if (!anyKept && !options.keep && !process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(root, {recursive: true, force: true})
  return {trials, counts, finalLine, ok, root, seconds}
}

