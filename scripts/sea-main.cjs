'use strict'
// Bootstrap of the single executable dist/dataflow (the SEA "main", built by scripts/pkg-build.ts).
// Node builtins only: a SEA main's own `require` loads nothing else.
//
// A SEA has no virtual filesystem, and oclif's command loading, sharp's libvips and the .node
// addons all need real files. So the app directory travels as a brotli payload and is extracted
// once per content hash into a cache:
//   $DATAFLOW_CACHE_DIR                      (if set, it must be usable: no fallback)
//   $XDG_CACHE_HOME/dataflow, else ~/.cache/dataflow
//   /tmp/dataflow-<uid>                      (must be ours: owned by the uid, not a symlink, mode 0700)
// Extraction goes to a temporary sibling that is renamed into place after `.complete` is
// written, so concurrent first runs are safe: one rename wins, the others discard their copy.
// Old versions' directories are left in the cache (a running older binary may still use them);
// deleting <cache>/<version>-<hash> directories by hand is always safe while no dataflow runs.
//
// Node's environment variables still apply to this binary, because Node reads them before this
// file runs: NODE_OPTIONS (e.g. --require/--import would inject code, --max-old-space-size
// changes limits), NODE_PATH (only for modules not found in the app's own node_modules),
// NODE_EXTRA_CA_CERTS (a stale value prints a warning), NODE_NO_WARNINGS, UV_THREADPOOL_SIZE.
// Node 20 offers no way to make a SEA ignore them. We remove NODE_OPTIONS and NODE_PATH from the
// environment here so they at least do not reach the processes dataflow starts; services should
// run dataflow with a clean environment (systemd does by default).
const fs = require('node:fs')
const path = require('node:path')
const os = require('node:os')
const zlib = require('node:zlib')
const crypto = require('node:crypto')
const sea = require('node:sea')
const {createRequire} = require('node:module')

delete process.env.NODE_OPTIONS
delete process.env.NODE_PATH

class CacheError extends Error {}

/**
 * mkdir -p without Node 20's recursive mkdir, which loops forever when an ancestor answers
 * EEXIST/ENOENT inconsistently (seen under /proc). Each missing component is created once;
 * the deepest existing ancestor must be a writable directory.
 */
function makeDirs(dir, mode) {
  const missing = []
  let current = dir
  for (;;) {
    let stat
    try {
      stat = fs.statSync(current)
    } catch (error) {
      if (error.code !== 'ENOENT') throw error
      const parent = path.dirname(current)
      if (parent === current) throw error
      missing.push(current)
      current = parent
      continue
    }
    if (!stat.isDirectory()) throw new CacheError(`${current} is not a directory`)
    break
  }
  if (missing.length > 0) fs.accessSync(current, fs.constants.W_OK | fs.constants.X_OK)
  for (const component of missing.reverse()) {
    try {
      fs.mkdirSync(component, {mode})
    } catch (error) {
      if (error.code !== 'EEXIST' || !fs.statSync(component).isDirectory()) throw error
    }
  }
  fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK)
}

/** /tmp is shared: refuse a directory someone else prepared for us (symlink or ownership attacks). */
function makePrivateTmpDir(dir) {
  const uid = process.getuid()
  try {
    fs.mkdirSync(dir, {mode: 0o700})
  } catch (error) {
    if (error.code !== 'EEXIST') throw error
  }
  const stat = fs.lstatSync(dir)
  if (stat.isSymbolicLink() || !stat.isDirectory()) throw new CacheError(`${dir} is not a directory (refusing a symlink or file)`)
  if (stat.uid !== uid) throw new CacheError(`${dir} belongs to uid ${stat.uid}, not to us (uid ${uid})`)
  if ((stat.mode & 0o777) !== 0o700) throw new CacheError(`${dir} has mode ${(stat.mode & 0o777).toString(8)}, expected 700`)
}

function homeDirectory() {
  if (process.env.HOME) return process.env.HOME
  try {
    return os.homedir()
  } catch {
    return undefined
  }
}

function cacheRoot() {
  const explicit = process.env.DATAFLOW_CACHE_DIR
  if (explicit) {
    const dir = path.resolve(explicit)
    try {
      makeDirs(dir, 0o700)
    } catch (error) {
      throw new CacheError(`DATAFLOW_CACHE_DIR=${explicit} is not usable: ${error.message}`)
    }
    return dir
  }
  const problems = []
  const xdg = process.env.XDG_CACHE_HOME
  const home = homeDirectory()
  const user = xdg && path.isAbsolute(xdg) ? path.join(xdg, 'dataflow') : home && path.isAbsolute(home) ? path.join(home, '.cache', 'dataflow') : undefined
  if (user) {
    try {
      makeDirs(user, 0o700)
      return user
    } catch (error) {
      problems.push(`${user}: ${error.message}`)
    }
  }
  const shared = path.join('/tmp', `dataflow-${process.getuid()}`)
  try {
    makePrivateTmpDir(shared)
    return shared
  } catch (error) {
    problems.push(`${shared}: ${error.message}`)
  }
  throw new CacheError(`no usable cache directory (set DATAFLOW_CACHE_DIR): ${problems.join('; ')}`)
}

/** Removes temporary directories left by extractions that were killed (older than 10 minutes). */
function removeAbandoned(root) {
  const cutoff = Date.now() - 10 * 60_000
  for (const name of fs.readdirSync(root)) {
    if (!name.startsWith('.') || !name.endsWith('.tmp')) continue
    const dir = path.join(root, name)
    try {
      if (fs.lstatSync(dir).mtimeMs < cutoff) fs.rmSync(dir, {recursive: true, force: true})
    } catch {}
  }
}

function extract(root, appDir, manifest) {
  removeAbandoned(root)
  const tmp = path.join(root, `.${manifest.key}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`)
  fs.mkdirSync(tmp, {mode: 0o755})
  try {
    const payload = zlib.brotliDecompressSync(sea.getRawAsset('payload.br'))
    if (payload.length !== manifest.rawBytes) throw new CacheError(`payload is ${payload.length} bytes, manifest says ${manifest.rawBytes}`)
    const made = new Set()
    for (const file of manifest.files) {
      const target = path.join(tmp, file.path)
      if (!target.startsWith(tmp + path.sep)) throw new CacheError(`bad path in manifest: ${file.path}`)
      const dir = path.dirname(target)
      if (!made.has(dir)) {
        fs.mkdirSync(dir, {recursive: true, mode: 0o755}) // inside our own fresh directory: cannot loop
        made.add(dir)
      }
      fs.writeFileSync(target, payload.subarray(file.offset, file.offset + file.length), {mode: file.mode})
    }
    fs.writeFileSync(path.join(tmp, '.complete'), `${manifest.key}\n`)
    try {
      fs.renameSync(tmp, appDir)
    } catch (error) {
      if (error.code !== 'EEXIST' && error.code !== 'ENOTEMPTY') throw error
      // Another first run won the race (fine), or a directory without .complete is in the way.
      if (!fs.existsSync(path.join(appDir, '.complete'))) {
        const aside = `${tmp}.old.tmp`
        try {
          fs.renameSync(appDir, aside)
          fs.renameSync(tmp, appDir)
        } catch {}
        fs.rmSync(aside, {recursive: true, force: true})
      }
    }
    if (!fs.existsSync(path.join(appDir, '.complete'))) throw new CacheError(`could not install ${appDir}`)
  } finally {
    fs.rmSync(tmp, {recursive: true, force: true})
  }
}

function prepare() {
  const manifest = JSON.parse(sea.getAsset('manifest.json', 'utf8'))
  if (manifest.format !== 1) throw new CacheError(`unknown payload format ${manifest.format}`)
  const root = cacheRoot()
  const appDir = path.join(root, manifest.key)
  if (!fs.existsSync(path.join(appDir, '.complete'))) extract(root, appDir, manifest)
  return appDir
}

let appDir
try {
  appDir = prepare()
} catch (error) {
  process.stderr.write(`dataflow: cannot prepare the program's files: ${error.message}\n`)
  process.exit(1)
}

// libvips' fontconfig must see the bundled fonts: hosts without fonts otherwise render boxes.
if (!process.env.FONTCONFIG_FILE) process.env.FONTCONFIG_FILE = path.join(appDir, 'fonts', 'fonts.conf')

// The bundle is loaded from disk with a real require, so oclif's own `require` of the command
// target (the same file) returns this module instance.
const {main} = createRequire(path.join(appDir, 'package.json'))('./dist/dataflow.cjs')
main(appDir, process.argv.slice(2)).catch((error) => {
  process.stderr.write(`dataflow: ${error && error.stack ? error.stack : String(error)}\n`)
  process.exitCode = 1
})
