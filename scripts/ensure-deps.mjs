// Makes a fresh clone ready for `npm test`, `npm run demo`, `npm run bench` and `npm run package`,
// so README's commands work on a bare Debian/Ubuntu machine with only Node 20 and git:
//   1. the system tools they run (rsync, ssh, sshd, bzip2, lbzip2, systemd-analyze, strip): when
//      any is missing, root with apt-get installs the Debian packages (one line says which and why);
//      anyone else stops at once with one line naming the exact command, exit 2;
//   2. the locked npm dependencies, when node_modules is missing or older than the lock file. The
//      native addon (node-inotify) is built by node-gyp against the headers of the running Node
//      (offline: npm_config_nodedir points at them), which needs python3, make and g++.
//
//   node scripts/ensure-deps.mjs [--for test|demo|bench|package]   (default: test)
import {spawnSync} from 'node:child_process'
import {accessSync, constants, existsSync, statSync} from 'node:fs'
import {delimiter, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** What each purpose runs. `path`: an absolute location the code uses instead of PATH (the sshd harness). */
const TOOLS = {
  rsync: {pkg: 'rsync', why: 'transfers between hosts', for: ['test', 'demo', 'bench']},
  ssh: {pkg: 'openssh-client', why: 'the ssh transport', for: ['test', 'demo', 'bench']},
  'ssh-keygen': {pkg: 'openssh-client', why: 'keys of the private test sshd', for: ['test', 'demo', 'bench']},
  sshd: {pkg: 'openssh-server', why: 'the private sshd on 127.0.0.1 that stands in for site-linux and campus', path: '/usr/sbin/sshd', for: ['test', 'demo', 'bench']},
  bzip2: {pkg: 'bzip2', why: 'DMAP compression and its test', for: ['test', 'demo', 'bench']},
  lbzip2: {pkg: 'lbzip2', why: 'parallel DMAP compression', for: ['test', 'demo', 'bench']},
  'systemd-analyze': {pkg: 'systemd', why: 'checks the generated systemd units', for: ['test']},
  strip: {pkg: 'binutils', why: 'strips the single executable', for: ['test', 'package']},
}
/** node-gyp's needs, only when npm has to build node_modules. */
const BUILD_TOOLS = {
  python3: {pkg: 'python3', why: 'node-gyp builds the node-inotify addon'},
  make: {pkg: 'make', why: 'node-gyp builds the node-inotify addon'},
  'g++': {pkg: 'g++', why: 'node-gyp builds the node-inotify addon'},
}

// Plain JavaScript on purpose: it runs before node_modules (and tsx) exist, so it cannot use
// src/lib/exec.ts's findOnPath. sbin directories count too: a user's PATH often lacks them.
const PATH_DIRS = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
const SEARCH = [...PATH_DIRS, '/usr/local/sbin', '/usr/sbin', '/sbin']

function executable(path) {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}
const inDirs = (dirs, name) => dirs.some((dir) => executable(join(dir, name)))
const found = (name, tool = {}) => (tool.path ? executable(tool.path) : inDirs(SEARCH, name))

const purposeFlag = process.argv.indexOf('--for')
const purpose = purposeFlag >= 0 ? process.argv[purposeFlag + 1] : 'test'
if (!['test', 'demo', 'bench', 'package'].includes(purpose)) {
  console.error(`ensure-deps: --for must be test, demo, bench or package (got ${JSON.stringify(purpose)})`)
  process.exit(2)
}

const lock = join(REPO, 'package-lock.json')
const stamp = join(REPO, 'node_modules', '.package-lock.json')
const npmNeeded = !existsSync(stamp) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(stamp).mtimeMs + 1000)

const wanted = Object.entries(TOOLS).filter(([, tool]) => tool.for.includes(purpose))
if (npmNeeded) wanted.push(...Object.entries(BUILD_TOOLS))
const missing = wanted.filter(([name, tool]) => !found(name, tool))

if (missing.length > 0) {
  const packages = [...new Set(missing.map(([, tool]) => tool.pkg))]
  const names = missing.map(([name]) => name).join(', ')
  const command = ['apt-get', 'install', '-y', '--no-install-recommends', ...packages]
  const needs = `dataflow needs ${names} for npm ${purpose === 'test' ? 'test' : `run ${purpose}`}`
  if (!inDirs(PATH_DIRS, 'apt-get')) {
    console.error(`${needs}: install the packages ${packages.join(' ')} (Debian names) with your system's package manager, then run it again`)
    process.exit(2)
  }
  if (process.getuid?.() !== 0) {
    console.error(`${needs}: run \`sudo ${command.join(' ')}\` (or the same as root), then run it again`)
    process.exit(2)
  }
  console.error(`installing ${packages.join(' ')} with apt-get: ${missing.map(([name, tool]) => `${name} (${tool.why})`).join('; ')}`)
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'}
  for (const argv of [['apt-get', 'update', '-qq'], [...command.slice(0, 3), '-qq', ...command.slice(3)]]) {
    const result = spawnSync(argv[0], argv.slice(1), {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
    if (result.status !== 0) {
      process.stderr.write(`${result.stdout}${result.stderr}`)
      console.error(`ensure-deps: \`${argv.join(' ')}\` failed (exit ${result.status ?? result.signal}); install ${packages.join(' ')} and run it again`)
      process.exit(2)
    }
  }
  const still = missing.filter(([name, tool]) => !found(name, tool)).map(([name]) => name)
  if (still.length > 0) {
    console.error(`ensure-deps: apt-get installed ${packages.join(' ')} but ${still.join(', ')} is still missing`)
    process.exit(2)
  }
}

if (npmNeeded) {
  const argv = existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']
  const env = {...process.env}
  // The running Node's own headers (nodesource and the official tarballs ship them in
  // <prefix>/include/node): without them node-gyp would download headers, which fails offline.
  const prefix = resolve(dirname(process.execPath), '..')
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix
  process.stderr.write(`dependencies missing or stale: npm ${argv.join(' ')}\n`)
  const result = spawnSync('npm', argv, {cwd: REPO, env, stdio: 'inherit'})
  if (result.status !== 0) process.exit(result.status ?? 1)
}
