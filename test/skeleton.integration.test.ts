// The per-file stage skeleton, tried on every stage that moves files: a misnamed file in the
// stage's input directory is quarantined with a reason and every other file still flows. And the
// resolved role layout's write set is enough: each stage, run where the whole file system is
// read-only except the layout's writes (what systemd's ProtectSystem=strict + ReadWritePaths= do),
// succeeds — and fails with EROFS (exit 7) when one of those directories is left out.
// Run through the CLI, as the daemon and operators run them; real sshd for the site-linux stages.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import YAML from 'yaml'

import {ConfigSchema, type Role} from '../src/lib/config/schema.js'
import {resolveRoleLayout} from '../src/roles/layout.js'
import {cliArgv, FIXTURES, runCli} from './helpers/cli.js'
import {type HostRoot, makeSandbox} from './helpers/hosts.js'
import {startSshd, type SshdHandle} from './helpers/sshd.js'

const B = join(FIXTURES, 'borealis')
const sandbox = makeSandbox()
let sshd: SshdHandle
before(async () => {
  sshd = await startSshd()
})
after(async () => {
  await sshd?.stop()
  sandbox.cleanup()
})

const md5 = (path: string) => spawnSync('md5sum', ['--', path], {encoding: 'utf8'}).stdout.split(' ')[0]
const put = (dir: string, name: string, from?: string, time?: Date) => {
  mkdirSync(dir, {recursive: true})
  const path = join(dir, name)
  if (from) copyFileSync(from, path)
  else writeFileSync(path, `contents of ${name}`)
  if (time) utimesSync(path, time, time)
  return path
}
const nameTime = new Date('2023-10-04T15:00:00Z')

interface Case {
  stage: string
  role: Role
  config: (h: HostRoot) => Record<string, unknown>
  /** Puts the good file(s) and returns [input, where it must end up]. */
  good: (h: HostRoot) => Array<[string, string]>
  /** Where the misnamed file goes in (the stage's input directory) and its quarantine. */
  input: (h: HostRoot) => string
  quarantine: (h: HostRoot) => string
  misnamed: string
}

const base = (h: HostRoot) => ({radar: 'sas', logging: {directory: h.at('logs')}, state: {directory: h.at('state')}, retry: {attempts: 1, initialDelayMs: 0, maxDelayMs: 0}})
const campusDirs = (h: HostRoot) => ({
  dataDirectory: h.at('sddata', '{radar}_data'),
  holdingDirectory: h.at('sddata', '{radar}_holding_dir'),
  conversionFailureDirectory: h.at('sddata', 'conversion_failure'),
  specialExperimentsDirectory: h.at('sddata', 'special_experiments'),
  archiveRoot: h.at('archive'),
  plotsDirectory: h.at('sddata', 'plots', '{radar}'),
  plotsArchiveDirectory: h.at('sddata', 'plots', '{radar}', 'archive'),
  camRoot: h.at('cam'),
  staging: [{name: 'vt', path: h.at('outgoing', 'vt', '{radar}'), mode: '664'}],
  watchDirectory: h.at('watch'),
})
const siteDirs = (h: HostRoot) => ({
  nasDataRoot: h.at('nas'),
  camDirectory: h.at('camera'),
  plotDirectory: h.at('daily_plots'),
  quarantineDirectory: h.at('site_quarantine'),
  watchDirectory: h.at('site_watch'),
  flagsDirectory: h.at('site_flags'),
})

const CASES: Case[] = [
  {
    stage: 'rsync-to-nas',
    role: 'borealis',
    config: (h) => ({
      ...base(h),
      borealis: {dataDirectory: h.at('borealis_data'), quarantineDirectory: h.at('borealis_quarantine'), flagsDirectory: h.at('flags')},
      site: siteDirs(h),
    }),
    good: (h) => [[put(h.at('borealis_data'), '20231004.1400.00.sas.0.rawacf.h5', join(B, '20231004.1400.00.sas.0.rawacf.h5'), nameTime), h.at('nas', 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')]],
    input: (h) => h.at('borealis_data'),
    quarantine: (h) => h.at('borealis_quarantine'),
    misnamed: 'sas.a.rawacf.bz2',
  },
  {
    stage: 'rsync-to-campus',
    role: 'site-linux',
    config: (h) => ({...base(h), site: siteDirs(h), campus: campusDirs(h), hosts: {campus: sshd.host}}),
    good: (h) => [[put(h.at('nas', 'rawacf_dmap'), '20231004.1400.00.sas.a.rawacf.bz2', join(B, '20231004.1400.00.sas.a.rawacf.bz2')), h.at('sddata', 'sas_data', '20231004.1400.00.sas.a.rawacf.bz2')]],
    input: (h) => h.at('nas', 'rawacf_dmap'),
    quarantine: (h) => h.at('site_quarantine'),
    misnamed: 'sas.a.rawacf.bz2',
  },
  {
    stage: 'transfer-cam-photos',
    role: 'site-linux',
    config: (h) => ({...base(h), site: {...siteDirs(h), cameras: [210]}, campus: campusDirs(h), hosts: {campus: sshd.host}}),
    good: (h) => [[put(h.at('camera'), '20231004.sascam210.jpg'), h.at('cam', 'sascam', 'sascam210', '2023', '10', '20231004.sascam210.jpg')]],
    input: (h) => h.at('camera'),
    quarantine: (h) => h.at('site_quarantine'),
    misnamed: 'nodate.sascam210.jpg',
  },
  {
    stage: 'convert-on-campus',
    role: 'campus',
    config: (h) => ({...base(h), campus: campusDirs(h)}),
    good: (h) => [[put(h.at('sddata', 'sas_holding_dir'), '20231004.1400.00.sas.0.rawacf.h5', join(B, '20231004.1400.00.sas.0.rawacf.h5')), h.at('sddata', 'sas_data', '20231004.1400.00.sas.0.rawacf.h5')]],
    input: (h) => h.at('sddata', 'sas_holding_dir'),
    quarantine: (h) => h.at('sddata', 'conversion_failure'),
    misnamed: 'sas.0.rawacf.h5',
  },
  {
    stage: 'distribute-borealis-data',
    role: 'campus',
    config: (h) => ({...base(h), campus: campusDirs(h)}),
    good: (h) => [[put(h.at('sddata', 'sas_data'), '20231004.1400.00.sas.a.rawacf.bz2', join(B, '20231004.1400.00.sas.a.rawacf.bz2')), h.at('archive', 'sas_rawacf_dmap', '2023', '10', '20231004.1400.00.sas.a.rawacf.bz2')]],
    input: (h) => h.at('sddata', 'sas_data'),
    quarantine: (h) => h.at('sddata', 'conversion_failure'),
    misnamed: 'sas.a.rawacf.bz2',
  },
  {
    stage: 'archive-iq-plots',
    role: 'campus',
    config: (h) => ({...base(h), campus: campusDirs(h)}),
    good: (h) => {
      const name = '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg'
      return [[put(h.at('sddata', 'plots', 'sas'), name, join(B, name)), h.at('sddata', 'plots', 'sas', 'archive', '2023', '10', name)]]
    },
    input: (h) => h.at('sddata', 'plots', 'sas'),
    quarantine: (h) => h.at('sddata', 'conversion_failure'),
    misnamed: 'sas.antenna_0.jpg',
  },
]

function writeConfig(h: HostRoot, tree: Record<string, unknown>): string {
  const file = h.at('config.yaml')
  writeFileSync(file, YAML.stringify(tree))
  return file
}

describe('a misnamed file is quarantined with a reason and every other file still flows (each stage)', () => {
  for (const c of CASES) {
    it(c.stage, async () => {
      const h = sandbox.host(`misnamed-${c.stage}`)
      const tree = c.config(h)
      const configFile = writeConfig(h, tree)
      // The directories an operator creates before the first start (install-service lists them).
      for (const dir of resolveRoleLayout(ConfigSchema.parse(tree), c.role, 'sas', {home: h.home}).writes) mkdirSync(dir, {recursive: true})
      const good = c.good(h)
      const sums = good.map(([input]) => md5(input))
      const misnamed = put(c.input(h), c.misnamed, undefined, nameTime)
      const {code, stdout, stderr} = await runCli([c.stage, '--config', configFile, '--json'], {env: {HOME: h.home}})
      assert.equal(code, 3, `one file failed, the run completed: ${stderr}`)
      const result = JSON.parse(stdout) as {succeeded: number; failed: number; files: Array<{source: string; outcome: string; reason?: string}>}
      assert.equal(result.failed, 1)
      const rejected = result.files.find((f) => f.source === misnamed)!
      assert.equal(rejected.outcome, 'quarantined', JSON.stringify(result.files))
      const quarantined = join(c.quarantine(h), c.misnamed)
      assert.equal(readFileSync(quarantined, 'utf8'), `contents of ${c.misnamed}`)
      assert.equal(existsSync(misnamed), false)
      assert.match(readFileSync(`${quarantined}.reason`, 'utf8'), /^\d{4}-\d\d-\d\dT.*Z .*(not a|no valid|naming)/)
      good.forEach(([input, destination], i) => {
        assert.equal(md5(destination), sums[i], `${basename(input)} arrived at ${destination}`)
        assert.equal(existsSync(input), false, `${input} moved`)
      })
    })
  }
})

/**
 * Runs argv in a private mount namespace where every mount is read-only except `writable` (each
 * bind-mounted onto itself first) and a private tmpfs for TMPDIR: what ProtectSystem=strict with
 * ReadWritePaths= and PrivateTmp= give a service. (PID 1 here is not systemd, so systemd-run
 * cannot be used; the kernel mechanism is the same.)
 */
function runReadOnlyExcept(writable: readonly string[], privateTmp: string, argv: readonly string[], env: NodeJS.ProcessEnv) {
  mkdirSync(privateTmp, {recursive: true})
  // bash, for arrays: $1 private tmp, $2 the count n, then n writable directories, then argv.
  const script = [
    'set -e',
    'tmp="$1"; n="$2"; writes=("${@:3:$n}"); cmd=("${@:$((3 + n))}")',
    'mount --make-rprivate /',
    'mount -t tmpfs tmpfs "$tmp"',
    'for w in "${writes[@]}"; do mount --bind "$w" "$w"; done',
    // Every other mount read-only (API file systems stay as they are).
    'while read -r m; do',
    '  case "$m" in /proc*|/sys*|/dev*) continue;; esac',
    '  keep=0; [ "$m" = "$tmp" ] && keep=1',
    '  for w in "${writes[@]}"; do [ "$m" = "$w" ] && keep=1; done',
    '  [ "$keep" = 1 ] || mount -o remount,bind,ro "$m" 2>/dev/null || true',
    "done < <(awk '{print $5}' /proc/self/mountinfo)",
    'exec "${cmd[@]}"',
  ].join('\n')
  return spawnSync('unshare', ['--mount', '--', 'bash', '-c', script, 'bash', privateTmp, String(writable.length), ...writable, ...argv], {
    encoding: 'utf8',
    env: {...env, TMPDIR: privateTmp, DATAFLOW_CONFIG: ''},
    timeout: 120_000,
  })
}

describe('a stage runs where only the role layout\'s writes are writable (ProtectSystem=strict, ReadWritePaths=)', () => {
  for (const c of CASES) {
    it(c.stage, () => {
      const h = sandbox.host(`strict-${c.stage}`)
      const tree = c.config(h)
      const configFile = writeConfig(h, tree)
      const layout = resolveRoleLayout(ConfigSchema.parse(tree), c.role, 'sas', {home: h.home})
      for (const dir of layout.writes) mkdirSync(dir, {recursive: true})
      const good = c.good(h)
      const env = {...process.env, HOME: h.home}
      const argv = cliArgv([c.stage, '--config', configFile])
      // Negative control: the input directory left out (the bug of a unit that ignored
      // borealis.configFile): the stage cannot delete after its verified copy and says so.
      const input = c.input(h)
      const inputRoot = layout.writes.filter((dir) => input === dir || input.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length)[0]
      assert.ok(inputRoot, `${input} is in the layout's write set`)
      const without = runReadOnlyExcept(layout.writes.filter((dir) => dir !== inputRoot), h.at('private-tmp'), argv, env)
      assert.notEqual(without.status, 0, 'a stage whose input directory is read-only cannot complete')
      assert.match(without.stdout + without.stderr, /read-only file system \(EROFS/, without.stderr)
      assert.ok(good.every(([file]) => existsSync(file)), 'nothing lost: the source is still there')
      const run = runReadOnlyExcept(layout.writes, h.at('private-tmp'), argv, env)
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`)
      for (const [file, destination] of good) {
        assert.equal(existsSync(file), false)
        assert.equal(existsSync(destination), true, destination)
      }
    })
  }
})
