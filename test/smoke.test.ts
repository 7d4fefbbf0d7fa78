// Smoke test of the built single executable (dist/dataflow), run the way an operator's host runs
// it: no Node on PATH, a clean environment, a fresh cache. Then again inside a minimal chroot that
// holds only the binary and the C libraries it links, so no Node and no fonts at all: text must
// still render with real glyphs from the bundled font. Builds the binary first when any input
// changed (scripts/pkg-build.ts --if-stale). Nothing here skips: a missing tool fails.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import type {DoctorCheck} from '../src/roles/doctor.js'
import {findOnPath} from '../src/lib/exec.js'
import {EXIT, EXIT_CODE_HELP} from '../src/lib/errors.js'
import {FIXTURES, REPO} from './helpers/cli.js'

const BINARY = join(REPO, 'dist', 'dataflow')
const HOST_PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`
const TOOLS = ['rsync', 'ssh', 'bzip2', 'lbzip2']

interface Result {
  code: number
  stdout: string
  stderr: string
}

function exec(argv: readonly string[], options: {env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number}): Promise<Result> {
  const [command, ...args] = argv as [string, ...string[]]
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code: code ?? (signal ? 128 : 1), stdout, stderr})
    })
  })
}

function show(result: Result): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

function byId(checks: readonly DoctorCheck[]): Map<string, DoctorCheck> {
  return new Map(checks.map((c) => [c.id, c]))
}

const work = mkdtempSync(join(tmpdir(), 'dataflow-smoke-'))
after(() => {
  if (!process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(work, {recursive: true, force: true})
})

before(async () => {
  const result = await exec([process.execPath, '--import', 'tsx', join(REPO, 'scripts', 'pkg-build.ts'), '--if-stale'], {
    env: process.env,
    cwd: REPO,
    timeoutMs: 10 * 60_000,
  })
  assert.equal(result.code, 0, `building dist/dataflow failed\n${show(result)}`)
  assert.ok(statSync(BINARY).mode & 0o100, 'dist/dataflow is not executable')
})

describe('dist/dataflow on this host, without node on PATH', () => {
  // PATH holds only the external tools dataflow needs: `node` cannot be found.
  const bin = join(work, 'host-bin')
  const home = join(work, 'host-home')
  const cache = join(work, 'host-cache')
  let env: NodeJS.ProcessEnv

  before(() => {
    mkdirSync(bin, {recursive: true})
    mkdirSync(home, {recursive: true})
    for (const tool of TOOLS) {
      const found = findOnPath(tool, HOST_PATH)
      if (found) symlinkSync(found, join(bin, tool))
    }
    env = {PATH: bin, HOME: home, DATAFLOW_CACHE_DIR: cache}
    assert.equal(findOnPath('node', env.PATH), undefined)
  })

  test('--version extracts the payload on first run and prints the version', async () => {
    const result = await exec([BINARY, '--version'], {env, cwd: work})
    assert.equal(result.code, 0, show(result))
    assert.match(result.stdout, /^dataflow\/\d+\.\d+\.\d+\S* linux-x64 node-v20\./)
    assert.equal(result.stderr, '')
    const entries = readdirSync(cache)
    assert.equal(entries.length, 1, `cache holds exactly the extracted app: ${entries.join(', ')}`)
    assert.ok(existsSync(join(cache, entries[0]!, '.complete')))
    assert.ok(existsSync(join(cache, entries[0]!, 'fonts', 'DejaVuSans.ttf')))
  })

  test('--help lists the commands, topics and the exit-code table', async () => {
    const result = await exec([BINARY, '--help'], {env, cwd: work})
    assert.equal(result.code, 0, show(result))
    assert.match(result.stdout, /^TOPICS\n(.|\n)*^ {2}config /m)
    assert.match(result.stdout, /^COMMANDS\n(.|\n)*^ {2}doctor /m)
    assert.match(result.stdout, /EXIT CODES/)
    for (const [code, text] of EXIT_CODE_HELP) assert.ok(result.stdout.includes(`${String(code).padEnd(5)}${text}`), `exit code ${code} missing`)
    const topic = await exec([BINARY, 'config', '--help'], {env, cwd: work})
    assert.equal(topic.code, 0, show(topic))
    assert.match(topic.stdout, /config validate/)
  })

  test('config init writes a config that config validate accepts', async () => {
    const file = join(work, 'campus.yaml')
    const init = await exec([BINARY, 'config', 'init', '--role', 'campus', '--output', file], {env, cwd: work})
    assert.equal(init.code, 0, show(init))
    const validate = await exec([BINARY, 'config', 'validate', '--config', file], {env, cwd: work})
    assert.equal(validate.code, 0, show(validate))
    assert.match(validate.stdout, /configuration is valid/)
  })

  test('doctor --json: bundled font renders real glyphs, HDF5 round trip, inotify, tools', async () => {
    const result = await exec([BINARY, 'doctor', '--json'], {env, cwd: work})
    assert.equal(result.code, 0, show(result))
    const checks = byId(JSON.parse(result.stdout) as DoctorCheck[])
    for (const id of ['config', 'sharp-text', 'hdf5', 'inotify', 'tool:rsync', 'tool:ssh', 'tool:bzip2']) {
      assert.equal(checks.get(id)?.status, 'ok', `${id}: ${JSON.stringify(checks.get(id))}`)
    }
    assert.match(checks.get('sharp-text')!.detail, new RegExp(`fontconfig ${cache}/[^/]+/fonts/fonts\\.conf`))
    assert.match(checks.get('build')!.detail, /built \d{4}-\d\d-\d\dT/)
  })

  test('concurrent first runs share one extraction', async () => {
    const fresh = join(work, 'race-cache')
    const runs = await Promise.all(Array.from({length: 4}, () => exec([BINARY, '--version'], {env: {...env, DATAFLOW_CACHE_DIR: fresh}, cwd: work})))
    for (const run of runs) assert.equal(run.code, 0, show(run))
    const entries = readdirSync(fresh)
    assert.equal(entries.length, 1, `one directory, no leftovers: ${entries.join(', ')}`)
    assert.ok(existsSync(join(fresh, entries[0]!, '.complete')))
  })

  test('an unusable DATAFLOW_CACHE_DIR is an error, not a silent fallback', async () => {
    const file = join(work, 'not-a-dir')
    writeFileSync(file, '')
    const result = await exec([BINARY, '--version'], {env: {...env, DATAFLOW_CACHE_DIR: join(file, 'sub')}, cwd: work})
    assert.equal(result.code, 1, show(result))
    assert.match(result.stderr, /DATAFLOW_CACHE_DIR=.* is not usable/)
  })
})

/** Shared libraries (with the dynamic loader) that `ldd` reports for these files. */
async function sharedLibraries(files: readonly string[]): Promise<Set<string>> {
  const libs = new Set<string>()
  for (const file of files) {
    const result = await exec(['ldd', file], {env: {PATH: HOST_PATH}, cwd: work})
    assert.equal(result.code, 0, `ldd ${file}\n${show(result)}`)
    assert.doesNotMatch(result.stdout, /not found/, `ldd ${file}`)
    for (const line of result.stdout.split('\n')) {
      const match = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
      if (match?.[1]?.startsWith('/lib') || match?.[1]?.startsWith('/usr/lib')) libs.add(match[1])
    }
  }
  return libs
}

function nativeFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...nativeFiles(path))
    else if (/\.node$|\.so(\.\d+)*$/.test(entry.name)) out.push(path)
  }
  return out
}

describe('dist/dataflow in a minimal chroot: no node, no fonts, no tools', () => {
  const root = join(work, 'chroot')
  const chroot = findOnPath('chroot', HOST_PATH)
  const run = (args: readonly string[], env: NodeJS.ProcessEnv) => exec([chroot!, root, '/bin/dataflow', ...args], {env, cwd: work})

  before(async () => {
    assert.ok(chroot, 'chroot(8) not found on PATH')
    assert.equal(process.getuid?.(), 0, 'the chroot smoke test needs root (chroot and mknod)')
    // The binary's own libraries and those of libvips and the addons (extracted by the host tests).
    const hostCache = join(work, 'host-cache')
    const extracted = readdirSync(hostCache).map((name) => join(hostCache, name))
    assert.equal(extracted.length, 1, 'run the host tests first: they extract the app')
    const libs = await sharedLibraries([BINARY, ...nativeFiles(extracted[0]!)])
    for (const dir of ['bin', 'etc', 'tmp', 'dev', 'home/op']) mkdirSync(join(root, dir), {recursive: true})
    chmodSync(join(root, 'tmp'), 0o1777)
    copyFileSync(BINARY, join(root, 'bin', 'dataflow'))
    chmodSync(join(root, 'bin', 'dataflow'), 0o755)
    for (const lib of libs) {
      mkdirSync(join(root, dirname(lib)), {recursive: true})
      copyFileSync(lib, join(root, lib))
    }
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/false\nop:x:1000:1000:op:/home/op:/bin/false\n')
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nop:x:1000:\n')
    for (const [name, minor] of [['null', '3'], ['urandom', '9']] as const) {
      const made = await exec(['mknod', '-m', '666', join(root, 'dev', name), 'c', '1', minor], {env: {PATH: HOST_PATH}, cwd: work})
      assert.equal(made.code, 0, `mknod /dev/${name}\n${show(made)}`)
    }
    const found = await exec(['find', root, '-name', 'node', '-o', '-name', '*.ttf', '-o', '-name', 'fonts.conf'], {env: {PATH: HOST_PATH}, cwd: work})
    assert.equal(found.stdout.trim(), '', 'the chroot must hold no node binary and no fonts')
  })

  test('doctor --json renders text with the bundled font where the system has none', async () => {
    const result = await run(['doctor', '--json'], {PATH: '/bin', HOME: '/home/op'})
    // The chroot has no rsync/ssh/bzip2, so doctor must report exactly those and exit 5.
    assert.equal(result.code, EXIT.UNREACHABLE, show(result))
    const checks = byId(JSON.parse(result.stdout) as DoctorCheck[])
    const text = checks.get('sharp-text')
    assert.equal(text?.status, 'ok', JSON.stringify(text))
    assert.match(text.detail, /DejaVu Sans renders/)
    assert.equal(checks.get('hdf5')?.status, 'ok', JSON.stringify(checks.get('hdf5')))
    assert.equal(checks.get('inotify')?.status, 'ok', JSON.stringify(checks.get('inotify')))
    const failed = [...checks.values()].filter((c) => c.status === 'fail').map((c) => c.id)
    assert.deepEqual(failed.sort(), ['tool:bzip2', 'tool:rsync', 'tool:ssh'])
    assert.doesNotMatch(result.stderr, /Fontconfig/i, 'no fontconfig complaints')
    assert.ok(existsSync(join(root, 'home', 'op', '.cache', 'dataflow')), 'default cache root is ~/.cache/dataflow')
  })

  test('plot-iq renders a real antennas_iq plot (JPEG and offline HTML) the same as on the host', async () => {
    const fixture = '20231004.1400.00.sas.0.antennas_iq.h5'
    const image = '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg'
    copyFileSync(join(FIXTURES, 'borealis', fixture), join(root, 'home', 'op', fixture))
    mkdirSync(join(root, 'home', 'op', 'plots'))
    const args = ['plot-iq', '--antennas', '0', '--min-power', '30', '--max-power', '80', '--html']
    const result = await run([...args, '--plot-directory', '/home/op/plots', `/home/op/${fixture}`], {PATH: '/bin', HOME: '/home/op'})
    assert.equal(result.code, 0, show(result))
    assert.doesNotMatch(result.stderr, /Fontconfig/i)
    const html = readFileSync(join(root, 'home', 'op', 'plots', '20231004.1400.00.sas.0.antennas_iq.0_70.html'), 'utf8')
    assert.match(html, /plotly\.js v4\.1\.2/)
    assert.match(html, /<script type="application\/json" id="figure-data">\{/)
    // The same binary on this host (system fonts present) must draw the same pixels: with boxes
    // instead of glyphs the text would differ.
    const hostDir = join(work, 'host-plots')
    mkdirSync(hostDir)
    const host = await exec([BINARY, ...args, '--plot-directory', hostDir, join(root, 'home', 'op', fixture)], {
      env: {PATH: HOST_PATH, HOME: join(work, 'host-home'), DATAFLOW_CACHE_DIR: join(work, 'host-cache')},
      cwd: work,
    })
    assert.equal(host.code, 0, show(host))
    const {default: sharp} = await import('sharp')
    const pixels = (file: string) => sharp(file).greyscale().raw().toBuffer({resolveWithObject: true})
    const inChroot = await pixels(join(root, 'home', 'op', 'plots', image))
    const onHost = await pixels(join(hostDir, image))
    assert.deepEqual([inChroot.info.width, inChroot.info.height], [1000, 835])
    assert.deepEqual([onHost.info.width, onHost.info.height], [1000, 835])
    let differing = 0
    for (let i = 0; i < inChroot.data.length; i++) if (Math.abs(inChroot.data[i]! - onHost.data[i]!) > 24) differing++
    assert.ok(differing < 50, `${differing} pixels differ between the chroot and the host render`)
  })

  test('the /tmp/dataflow-<uid> fallback refuses a symlink or a loose mode, then works', async () => {
    // HOME below a regular file makes ~/.cache unusable, so the bootstrap falls back to /tmp.
    const env = {PATH: '/bin', HOME: '/etc/passwd'}
    const fallback = join(root, 'tmp', 'dataflow-0')
    symlinkSync('/home/op', fallback)
    const viaSymlink = await run(['--version'], env)
    assert.equal(viaSymlink.code, 1, show(viaSymlink))
    assert.match(viaSymlink.stderr, /dataflow-0 is not a directory \(refusing a symlink/)
    rmSync(fallback)
    mkdirSync(fallback, {mode: 0o755})
    chmodSync(fallback, 0o755)
    const loose = await run(['--version'], env)
    assert.equal(loose.code, 1, show(loose))
    assert.match(loose.stderr, /has mode 755, expected 700/)
    rmSync(fallback, {recursive: true})
    const fresh = await run(['--version'], env)
    assert.equal(fresh.code, 0, show(fresh))
    const stat = lstatSync(fallback)
    assert.ok(stat.isDirectory() && (stat.mode & 0o777) === 0o700 && stat.uid === 0)
  })
})
