// Fault scenarios: the destination full (a small tmpfs), read-only (a read-only bind mount),
// missing, not writable (the stage run as `nobody`; `chattr +i` on the remote side, whose login
// user is root and ignores mode bits), sshd killed mid-run, rsync missing from PATH. Mounts are
// made in a private mount namespace (`unshare --mount`) held by a sleeping process: the stage runs
// in it through `nsenter`, the checker reads its files through /proc/<pid>/root, and nothing is
// mounted on the host. For each scenario: the stage must exit non-zero with a line naming the
// cause, nothing may be lost and no source deleted without its copies; then the fault is fixed,
// the stage run again, and everything must arrive.
import {spawn, spawnSync} from 'node:child_process'
import {chownSync, lstatSync, mkdirSync, readdirSync, symlinkSync} from 'node:fs'
import {delimiter, join} from 'node:path'

import {startSshd} from '../helpers/sshd.js'
import {check, emptyViolations, mergeViolations} from './invariant.js'
import {runStageToEnd, type SpawnOptions, spawnStage, type StageRun} from './proc.js'
import {countsOf, failed, type SuiteContext, type TrialResult, violationDetails} from './trials.js'
import {buildWorld, type StageKind, type World} from './world.js'

interface Setup {
  spawn?: SpawnOptions
  /** Where a path of the world can be read from (inside the scenario's mount namespace). */
  view?: (p: string) => string
  /** Acts on the running stage (e.g. stops sshd once a copy is through). */
  during?: (run: StageRun) => Promise<void>
  fix(): Promise<void>
  /** Spawn options of the run after the fix (default: those of the faulty run). */
  fixedSpawn?: SpawnOptions
  cleanup(): Promise<void>
}

interface Fault {
  stage: StageKind
  needsSshd?: boolean
  /** What the faulty run's output must say (one line). */
  cause: RegExp
  description: string
  setup(world: World, ctx: SuiteContext): Promise<Setup>
}

interface Namespace {
  pid: number
  view: (p: string) => string
  prefix: string[]
  /** Runs a command inside the namespace (argv, no shell); throws on failure. */
  run(argv: readonly string[]): void
  close(): Promise<void>
}

/**
 * A private mount namespace set up by a fixed sh script (arguments as "$1", "$2"…, never inside
 * the script text), held open by `sleep` until close().
 */
async function mountNamespace(script: string, args: readonly string[]): Promise<Namespace> {
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', `set -e\n${script}\necho ready\nexec sleep infinity`, 'sh', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  holder.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<void>((resolve) => holder.once('close', () => resolve()))
  const kill = () => holder.kill('SIGKILL')
  process.once('exit', kill)
  const ready = await new Promise<boolean>((resolve) => {
    holder.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(true))
    void exited.then(() => resolve(false))
  })
  if (!ready) throw new Error(`mount namespace setup failed: ${err.trim()}`)
  const pid = holder.pid!
  return {
    pid,
    view: (p) => `/proc/${pid}/root${p}`,
    prefix: ['nsenter', '-t', String(pid), '-m', '--'],
    run(argv) {
      const result = spawnSync('nsenter', ['-t', String(pid), '-m', '--', ...argv], {encoding: 'utf8'})
      if (result.status !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr.trim()}`)
    },
    async close() {
      process.removeListener('exit', kill)
      kill()
      await exited
    },
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid)
  if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid)
}

function chattr(flag: '+i' | '-i', dirs: readonly string[]): void {
  for (const dir of dirs) {
    // Absolute paths: chattr cannot read one as an option.
    const result = spawnSync('chattr', [flag, dir], {encoding: 'utf8'})
    if (result.status !== 0) throw new Error(`chattr ${flag} ${dir}: ${result.stderr.trim()}`)
  }
}

/** A directory of symlinks to every program on PATH except rsync. */
function pathWithout(program: string, dir: string): string {
  mkdirSync(dir, {recursive: true})
  const seen = new Set(readdirSync(dir))
  for (const from of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].filter(Boolean)) {
    let names: string[]
    try {
      names = readdirSync(from)
    } catch {
      continue
    }
    for (const name of names) {
      if (name === program || seen.has(name)) continue
      seen.add(name)
      symlinkSync(join(from, name), join(dir, name))
    }
  }
  return dir
}

const nasRoot = (world: World) => (world.config.site as {nasDataRoot: string}).nasDataRoot
const NOBODY = 65534

export const FAULTS: Record<string, Fault> = {
  'full:rsync-to-nas': {
    stage: 'rsync-to-nas',
    cause: /ENOSPC|no space left/i,
    description: 'NAS root on a 3 MB tmpfs (7 MB to copy)',
    async setup(world) {
      mkdirSync(nasRoot(world), {recursive: true})
      const ns = await mountNamespace('mount -t tmpfs -o "size=$1" tmpfs "$2"', ['3m', nasRoot(world)])
      return {spawn: {env: world.env, prefix: ns.prefix}, view: ns.view, fix: async () => ns.run(['mount', '-o', 'remount,size=64m', nasRoot(world)]), cleanup: () => ns.close()}
    },
  },
  'full:distribute-borealis-data': {
    stage: 'distribute-borealis-data',
    cause: /ENOSPC|no space left/i,
    description: 'mirror staging directory on a 600 kB tmpfs',
    async setup(world) {
      const mirror = (world.config.campus as {staging: Array<{path: string}>}).staging[2]!.path
      mkdirSync(mirror, {recursive: true})
      const ns = await mountNamespace('mount -t tmpfs -o "size=$1" tmpfs "$2"', ['600k', mirror])
      return {spawn: {env: world.env, prefix: ns.prefix}, view: ns.view, fix: async () => ns.run(['mount', '-o', 'remount,size=64m', mirror]), cleanup: () => ns.close()}
    },
  },
  'readonly:rsync-to-nas': {
    stage: 'rsync-to-nas',
    cause: /EROFS|read-only/i,
    description: 'NAS root bind-mounted read-only',
    async setup(world) {
      mkdirSync(nasRoot(world), {recursive: true})
      const ns = await mountNamespace('mount --bind "$1" "$1"\nmount -o remount,bind,ro "$1"', [nasRoot(world)])
      return {spawn: {env: world.env, prefix: ns.prefix}, view: ns.view, fix: async () => ns.run(['mount', '-o', 'remount,bind,rw', nasRoot(world)]), cleanup: () => ns.close()}
    },
  },
  'readonly:convert-on-campus': {
    stage: 'convert-on-campus',
    cause: /EROFS|read-only/i,
    description: 'campus data directory bind-mounted read-only',
    async setup(world) {
      const data = world.roots.find((r) => r.kind === 'final')!.path
      mkdirSync(data, {recursive: true})
      const ns = await mountNamespace('mount --bind "$1" "$1"\nmount -o remount,bind,ro "$1"', [data])
      return {spawn: {env: world.env, prefix: ns.prefix}, view: ns.view, fix: async () => ns.run(['mount', '-o', 'remount,bind,rw', data]), cleanup: () => ns.close()}
    },
  },
  'missing:rsync-to-nas': {
    stage: 'rsync-to-nas',
    cause: /ENOENT|no such file|not exist|missing|not mounted/i,
    description: 'NAS data root missing (its mount point is there, empty: the NAS is not mounted)',
    async setup(world) {
      const mountPoint = join(world.dir, 'borealis_nfs')
      mkdirSync(mountPoint, {recursive: true})
      const root = join(mountPoint, 'borealis_data')
      retarget(world, nasRoot(world), root)
      ;(world.config.site as {nasDataRoot: string}).nasDataRoot = root
      world.writeConfig()
      return {spawn: {env: world.env}, fix: async () => void mkdirSync(root, {recursive: true}), cleanup: async () => undefined}
    },
  },
  'missing:rsync-to-campus': {
    stage: 'rsync-to-campus',
    needsSshd: true,
    cause: /ENOENT|no such file|not exist|missing/i,
    description: 'campus sddata directory missing on the campus host',
    async setup(world) {
      const sddata = join(world.dir, 'campus', 'sddata')
      return {spawn: {env: world.env}, fix: async () => void mkdirSync(sddata, {recursive: true}), cleanup: async () => undefined}
    },
  },
  'denied:rsync-to-nas': {
    stage: 'rsync-to-nas',
    cause: /EACCES|permission denied/i,
    description: 'stage run as nobody; the NAS root belongs to root (mode 755)',
    async setup(world) {
      chownTree(world.dir, NOBODY, NOBODY)
      mkdirSync(nasRoot(world), {recursive: true, mode: 0o755})
      chownSync(nasRoot(world), 0, 0)
      const spawn = {env: world.env, uid: NOBODY, gid: NOBODY}
      return {spawn, fix: async () => chownTree(nasRoot(world), NOBODY, NOBODY), cleanup: async () => undefined}
    },
  },
  'denied:rsync-to-campus': {
    stage: 'rsync-to-campus',
    needsSshd: true,
    cause: /not permitted|permission denied|EACCES|EPERM/i,
    description: 'campus directories immutable (chattr +i; the remote login user is root)',
    async setup(world) {
      const dirs = campusDirs(world)
      for (const dir of dirs) mkdirSync(dir, {recursive: true})
      chattr('+i', dirs)
      let fixed = false
      const undo = async () => {
        if (!fixed) chattr('-i', dirs)
        fixed = true
      }
      return {spawn: {env: world.env}, fix: undo, cleanup: undo}
    },
  },
  'sshd-stopped:rsync-to-campus': {
    stage: 'rsync-to-campus',
    needsSshd: true,
    cause: /ssh connection|connection (refused|closed|reset|failed|dropped)|cannot open the ssh|unreachable|could not establish/i,
    description: 'sshd killed (with its sessions) once the first copy verified, restarted for the re-run',
    async setup(world) {
      const sshd = await startSshd(join(world.dir, 'sshd'))
      const campus = world.config.hosts as {campus: Record<string, unknown>}
      // 500 KiB/s: the transfer is still going when sshd dies.
      campus.campus = {...sshd.host, bandwidthLimitKBps: 500}
      world.writeConfig()
      return {
        spawn: {env: world.env},
        async during(run) {
          if (await run.waitFor((e) => e.event === 'transfer.verified')) await sshd.kill()
        },
        fix: () => sshd.restart(),
        cleanup: () => sshd.stop(),
      }
    },
  },
  'no-rsync:rsync-to-campus': {
    stage: 'rsync-to-campus',
    needsSshd: true,
    cause: /rsync.*not found|rsync.*ENOENT/i,
    description: 'rsync missing from PATH',
    async setup(world, ctx) {
      const path = pathWithout('rsync', join(ctx.root, 'path-without-rsync'))
      return {spawn: {env: {...world.env, PATH: path}}, fixedSpawn: {env: world.env}, fix: async () => undefined, cleanup: async () => undefined}
    },
  },
}

function campusDirs(world: World): string[] {
  const campus = join(world.dir, 'campus')
  return [join(campus, 'sddata', 'sas_data'), join(campus, 'sddata', 'sas_holding_dir'), join(campus, 'plots', 'sas')]
}

/** Moves the expected places of every input from one root to another (the world's destination moved). */
function retarget(world: World, from: string, to: string): void {
  const move = (p: string) => (p.startsWith(`${from}/`) ? `${to}${p.slice(from.length)}` : p)
  for (const input of world.inputs) {
    input.expect = input.expect.map(move)
    input.outputs = Object.fromEntries(Object.entries(input.outputs).map(([p, c]) => [move(p), c]))
  }
  for (const root of world.roots) root.path = root.path === from ? to : move(root.path)
}

export async function faultTrial(id: string, ctx: SuiteContext): Promise<TrialResult> {
  const started = performance.now()
  const fault = FAULTS[id]
  if (!fault) throw new Error(`unknown fault scenario ${id} (known: ${Object.keys(FAULTS).join(', ')})`)
  const world = await buildWorld(fault.stage, join(ctx.root, `fault-${id.replace(':', '-')}`), ctx)
  const setup = await fault.setup(world, ctx)
  const violations = emptyViolations()
  const expectationFailures: string[] = []
  let line = ''
  try {
    const run = spawnStage(world.args, setup.spawn ?? {env: world.env})
    if (setup.during) await setup.during(run)
    const exit = await run.exited
    // The stage's own lines: per-file outcomes and `dataflow: …`; a file that went through names no cause.
    const said = `${run.stdout()}\n${run.stderr()}`.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'))
    const cause = said.filter((l) => !/^(transferred|converted|moved|distributed|special|nothing to do)\b/.test(l)).find((l) => fault.cause.test(l))
    const quote = cause ? `…${cause.slice(Math.max(0, cause.search(fault.cause) - 70), cause.search(fault.cause) + 70)}` : (said.at(-1) ?? '').slice(0, 140)
    if (exit.code === 0) expectationFailures.push(`exit 0: the fault went unnoticed (${said.at(-1) ?? 'no output'})`)
    else if (!cause) expectationFailures.push(`no output line names the cause (${fault.cause}); last line: ${said.at(-1)?.slice(0, 200) ?? 'none'}`)
    mergeViolations(violations, check(world.inputs, world.roots, {phase: 'kill', base: world.dir, view: setup.view}).violations, 'faulty run')
    await setup.fix()
    const rerun = await runStageToEnd(world.args, setup.fixedSpawn ?? setup.spawn ?? {env: world.env})
    const final = check(world.inputs, world.roots, {phase: 'final', base: world.dir, view: setup.view})
    mergeViolations(violations, final.violations, 'after the fix')
    violations.temps = final.violations.temps
    line =
      `${`fault ${id}`.padEnd(40)} exit=${exit.code} ${JSON.stringify(quote)}; fixed, re-run exit=${rerun.exit.code}  ` +
      `${countsOf(violations)}${expectationFailures.length > 0 ? ' EXPECTATION FAILED' : ''}  (${((performance.now() - started) / 1000).toFixed(1)} s)`
  } finally {
    await setup.cleanup()
  }
  const details = [`    ${fault.description}`, ...expectationFailures.map((e) => `    expectation: ${e}`), ...violationDetails(violations)]
  if (violations.temps.length > 0) details.push(`    temp files left after the re-run: ${violations.temps.join(', ')}`)
  if (failed(violations) || expectationFailures.length > 0) details.push(`    kept: ${ctx.keepFailed(world.dir, `fault-${id}`)}`)
  return {id: `fault ${id}`, type: 'fault', stage: fault.stage, violations, line, details, ms: performance.now() - started, expectationFailures}
}
