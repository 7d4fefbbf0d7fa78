// Builds dist/dataflow: one Linux x86_64 executable that needs no Node on the target host.
// Node's Single Executable Applications (SEA) + postject: pkg cannot build offline (it downloads
// prebuilt Node binaries). The executable is the Node binary running this script,
// stripped, carrying a CommonJS bootstrap (scripts/sea-main.cjs) and two assets: a brotli payload
// of the app directory (bundle, external packages with native code, fonts) and its manifest.
// At run time the bootstrap extracts the payload once into a per-user cache keyed by content.
//
//   npm run package                    always builds
//   tsx scripts/pkg-build.ts --if-stale  builds only when an input changed (used by the smoke test)
import {createHash} from 'node:crypto'
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {brotliCompressSync, constants as zlibConstants} from 'node:zlib'

import {build as esbuild} from 'esbuild'
import {$} from 'zx'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const BUILD = join(REPO, 'build')
const APP = join(BUILD, 'app')
const SEA = join(BUILD, 'sea')
export const BINARY = join(REPO, 'dist', 'dataflow')
/** Records what dist/dataflow was built from, for --if-stale. */
const STAMP = `${BINARY}.inputs.json`
const LOCK = join(BUILD, '.pkg-build.lock')

/** Imported lazily by the product, shipped as files (native code, wasm, ESM-only, or a text asset). */
export const RUNTIME_EXTERNALS = ['sharp', 'node-inotify', 'plotly.js-dist-min', 'h5wasm'] as const
/** Development-only modules that oclif probes for; never shipped. */
const DEV_EXTERNALS = ['typescript', 'tsx', 'ts-node']
/** Used by the developer scripts only: the build fails if the product's bundle pulls one in. */
const DEV_ONLY_PACKAGES = ['zx']
/** Needed only to compile native addons at install time. */
const BUILD_ONLY_PACKAGES = new Set(['nan', 'node-addon-api'])
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'fonts.conf', 'LICENSE']
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const BROTLI_QUALITY = 9

interface PackageJson {
  name: string
  version: string
  description?: string
  license?: string
  oclif?: {commands?: Record<string, unknown>} & Record<string, unknown>
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
}

export interface ManifestFile {
  path: string
  mode: number
  offset: number
  length: number
}

/** Read by scripts/sea-main.cjs: keep the two in step. */
export interface Manifest {
  format: 1
  name: string
  version: string
  /** Cache directory name: version plus the start of the content hash. */
  key: string
  sha256: string
  rawBytes: number
  files: ManifestFile[]
}

export interface BuildResult {
  binary: string
  binaryBytes: number
  key: string
  files: number
  rawBytes: number
  payloadBytes: number
  bundleBytes: number
  stripped: boolean
  seconds: Record<string, number>
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T
}

function gitShortCommit(): string {
  const result = $.sync({cwd: REPO, nothrow: true, quiet: true})`git rev-parse --short HEAD`
  return result.ok ? result.stdout.trim() : 'unknown'
}

/** SOURCE_DATE_EPOCH (reproducible builds convention) when set, else now; ISO 8601 UTC. */
function buildDate(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH)
  return new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

// ---------------------------------------------------------------------------------------------
// Inputs and staleness

function listFiles(dir: string, skip: (name: string) => boolean = () => false): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
    if (skip(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...listFiles(path, skip))
    else if (entry.isFile()) out.push(path)
  }
  return out
}

/**
 * A hash of everything that goes into the executable except the build time and commit: the
 * sources, this script, the bootstrap, the fonts, the dependency lock and the base Node binary.
 */
export function inputFingerprint(): string {
  const hash = createHash('sha256')
  const files = [
    ...listFiles(join(REPO, 'src')),
    join(REPO, 'scripts', 'pkg-build.ts'),
    join(REPO, 'scripts', 'sea-main.cjs'),
    ...FONT_FILES.map((f) => join(REPO, 'assets', 'fonts', f)),
    join(REPO, 'package.json'),
    join(REPO, 'package-lock.json'),
  ].filter((f) => existsSync(f))
  for (const file of files) hash.update(`${relative(REPO, file)}\0`).update(readFileSync(file)).update('\0')
  const node = statSync(process.execPath)
  hash.update(`${process.execPath}\0${process.version}\0${node.size}\0${node.mtimeMs}`)
  return hash.digest('hex')
}

export function isUpToDate(): boolean {
  if (!existsSync(BINARY) || !existsSync(STAMP)) return false
  try {
    const stamp = readJson<{fingerprint: string; binaryBytes: number}>(STAMP)
    return stamp.fingerprint === inputFingerprint() && statSync(BINARY).size === stamp.binaryBytes
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// A lock so that `npm run package` and the smoke test never build into build/ at the same time.

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function withBuildLock<T>(body: () => Promise<T>): Promise<T> {
  mkdirSync(BUILD, {recursive: true})
  const deadline = Date.now() + 10 * 60_000
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = Number(readFileSync(LOCK, 'utf8').trim())
      if (!Number.isInteger(holder) || holder <= 0 || !isAlive(holder)) {
        rmSync(LOCK, {force: true})
        continue
      }
      if (Date.now() > deadline) throw new Error(`another build (pid ${holder}) holds ${LOCK}`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
  try {
    return await body()
  } finally {
    rmSync(LOCK, {force: true})
  }
}

// ---------------------------------------------------------------------------------------------
// Step 1: bundle

async function bundle(info: {version: string; commit: string; date: string}): Promise<number> {
  const outfile = join(APP, 'dist', 'dataflow.cjs')
  const result = await esbuild({
    entryPoints: [join(REPO, 'src', 'bundle-entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    keepNames: true,
    external: [...RUNTIME_EXTERNALS, ...DEV_EXTERNALS],
    // CommonJS has no import.meta: h5wasm's loader and our own path lookups use import.meta.url.
    banner: {js: 'const __dataflow_import_meta_url = require("node:url").pathToFileURL(__filename).href;'},
    define: {
      'import.meta.url': '__dataflow_import_meta_url',
      'import.meta.dirname': '__dirname',
      __DATAFLOW_BUILD__: JSON.stringify(info),
    },
    legalComments: 'eof',
    logLevel: 'warning',
    metafile: true,
  })
  const inputs = Object.keys(result.metafile.inputs)
  const leaked = inputs.filter((f) => RUNTIME_EXTERNALS.some((name) => f.includes(`node_modules/${name}/`)))
  if (leaked.length > 0) throw new Error(`external packages were bundled: ${leaked.slice(0, 5).join(', ')}`)
  const devOnly = inputs.filter((f) => DEV_ONLY_PACKAGES.some((name) => f.includes(`node_modules/${name}/`)))
  if (devOnly.length > 0) throw new Error(`src/ imports a development-only package: ${devOnly.slice(0, 5).join(', ')}`)
  return statSync(outfile).size
}

// ---------------------------------------------------------------------------------------------
// Step 2: the executable's package.json (oclif reads its `oclif` block; target = the bundle)

function writeAppPackageJson(pkg: PackageJson): void {
  if (!pkg.oclif) throw new Error('package.json has no oclif block')
  const app = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    private: true,
    type: 'commonjs',
    oclif: {...pkg.oclif, commands: {...pkg.oclif.commands, target: './dist/dataflow.cjs'}},
  }
  writeFileSync(join(APP, 'package.json'), `${JSON.stringify(app, null, 2)}\n`)
}

// ---------------------------------------------------------------------------------------------
// Step 3: external runtime packages and their dependency closure

/** Node's lookup, done by hand: `exports` of sharp and h5wasm hide their package.json from require.resolve. */
function findPackage(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; dir.startsWith(REPO); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dir === REPO) break
  }
  return undefined
}

function dependencyClosure(roots: readonly string[]): string[] {
  const found = new Map<string, string>()
  const visit = (name: string, fromDir: string, optional: boolean) => {
    if (BUILD_ONLY_PACKAGES.has(name)) return
    const dir = findPackage(name, fromDir)
    if (!dir) {
      if (optional) return // optional platform packages for other systems are not installed
      throw new Error(`runtime package ${name} is not installed (needed from ${relative(REPO, fromDir) || '.'})`)
    }
    if (found.has(dir)) return
    found.set(dir, name)
    const pkg = readJson<PackageJson>(join(dir, 'package.json'))
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, dir, false)
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dep, dir, true)
  }
  for (const root of roots) visit(root, REPO, false)
  return [...found.keys()].sort()
}

const PRUNED_DIRS = new Set(['src', 'test', 'tests', '__tests__', 'docs', 'doc', 'example', 'examples', '.github', 'node_modules'])
const PRUNED_FILE = /(\.md|\.markdown|\.d\.ts|\.d\.mts|\.d\.cts|\.map)$/i

/** Which files of a package the executable carries (paths relative to the package). */
function keepFile(pkgName: string, rel: string, nodeGyp: boolean): boolean {
  const parts = rel.split(sep)
  // h5wasm: only the Node build (the wasm is embedded in dist/node/hdf5_util.js).
  if (pkgName === 'h5wasm') return rel === 'package.json' || /^LICENSE/i.test(rel) || rel.startsWith(`dist${sep}node${sep}`)
  // Top level only: deeper directories with these names may hold runtime code.
  if (parts.length > 1 && PRUNED_DIRS.has(parts[0]!)) return false
  const base = parts.at(-1)!
  if (/^licen[cs]e/i.test(base)) return true // licences travel with the code, whatever their extension
  if (PRUNED_FILE.test(base) || base.startsWith('.')) return false // docs, types, maps, CI dotfiles
  if (nodeGyp) {
    // A compiled addon needs only its .node file; its build tree holds objects and makefiles.
    if (parts[0] === 'build') return parts.length === 3 && parts[1] === 'Release' && rel.endsWith('.node')
    if (rel === 'binding.gyp') return false
  }
  return true
}

function copyPackages(): {packages: string[]} {
  const dirs = dependencyClosure(RUNTIME_EXTERNALS)
  const names: string[] = []
  for (const dir of dirs) {
    const pkg = readJson<PackageJson>(join(dir, 'package.json'))
    names.push(pkg.name)
    const nodeGyp = existsSync(join(dir, 'binding.gyp'))
    const target = join(APP, relative(REPO, dir))
    for (const file of listFiles(dir, (name) => name === 'node_modules')) {
      const rel = relative(dir, file)
      if (!keepFile(pkg.name, rel, nodeGyp)) continue
      mkdirSync(dirname(join(target, rel)), {recursive: true})
      copyFileSync(file, join(target, rel))
    }
  }
  return {packages: names}
}

// ---------------------------------------------------------------------------------------------
// Step 4: fonts

function copyFonts(): void {
  const dir = join(APP, 'fonts')
  mkdirSync(dir, {recursive: true})
  for (const file of FONT_FILES) copyFileSync(join(REPO, 'assets', 'fonts', file), join(dir, file))
}

// ---------------------------------------------------------------------------------------------
// Step 5: payload and manifest

function pack(pkg: PackageJson): {manifest: Manifest; payload: Buffer} {
  const files: ManifestFile[] = []
  const chunks: Buffer[] = []
  const hash = createHash('sha256')
  let offset = 0
  for (const file of listFiles(APP)) {
    const stat = lstatSync(file)
    if (!stat.isFile()) throw new Error(`${file}: not a regular file`)
    const path = relative(APP, file).split(sep).join('/')
    const data = readFileSync(file)
    const mode = stat.mode & 0o777
    hash.update(`${path}\0${mode}\0${data.length}\0`).update(data)
    files.push({path, mode, offset, length: data.length})
    chunks.push(data)
    offset += data.length
  }
  const raw = Buffer.concat(chunks)
  const sha256 = hash.digest('hex')
  const payload = brotliCompressSync(raw, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: 24,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  })
  const manifest: Manifest = {
    format: 1,
    name: pkg.name,
    version: pkg.version,
    key: `${pkg.version}-${sha256.slice(0, 16)}`,
    sha256,
    rawBytes: raw.length,
    files,
  }
  return {manifest, payload}
}

// ---------------------------------------------------------------------------------------------
// Steps 6-7: SEA blob, base binary, injection

function run(argv: string[], options: {env?: NodeJS.ProcessEnv} = {}): void {
  const result = $.sync({stdio: ['ignore', 'inherit', 'inherit'], env: options.env ?? process.env, nothrow: true})`${argv}`
  if (result.cause) throw new Error(`${argv[0]}: ${result.cause.message}`)
  if (!result.ok) throw new Error(`${argv.join(' ')}: exit code ${result.exitCode ?? result.signal}`)
}

function makeBlob(): Buffer {
  const config = {
    main: join(REPO, 'scripts', 'sea-main.cjs'),
    output: join(SEA, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: false,
    assets: {'manifest.json': join(SEA, 'manifest.json'), 'payload.br': join(SEA, 'payload.br')},
  }
  const configFile = join(SEA, 'sea-config.json')
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`)
  // The blob must come from the very binary it is injected into (process.execPath, below).
  const env = {...process.env}
  delete env.NODE_OPTIONS
  run([process.execPath, '--experimental-sea-config', configFile], {env})
  return readFileSync(config.output)
}

interface Postject {
  inject: (file: string, name: string, data: Buffer, options: {sentinelFuse: string; overwrite?: boolean}) => Promise<void>
}

async function makeExecutable(blob: Buffer): Promise<{stripped: boolean}> {
  mkdirSync(dirname(BINARY), {recursive: true})
  const tmp = `${BINARY}.tmp-${process.pid}`
  rmSync(tmp, {force: true})
  copyFileSync(process.execPath, tmp)
  chmodSync(tmp, 0o755)
  if (!readFileSync(tmp).includes(SEA_FUSE)) throw new Error(`${process.execPath} has no SEA fuse: it cannot become a single executable`)
  // strip keeps .dynsym, which the sharp and inotify addons link against: about 12 MB less.
  const strip = $.sync({stdio: ['ignore', 'inherit', 'inherit'], nothrow: true})`strip --strip-all ${tmp}`
  const stripped = strip.ok
  if (!stripped) process.stderr.write(`warning: strip --strip-all failed (${strip.cause?.message ?? `exit ${strip.exitCode ?? strip.signal}`}); binary left unstripped\n`)
  // postject's API, not `npx postject`: errors must fail the build. Its LIEF core warns a dozen
  // times "Can't find string offset for section name '.note…'" through console.warn; harmless, muted.
  const {inject} = createRequire(import.meta.url)('postject') as Postject
  const warn = console.warn
  console.warn = (...args: unknown[]) => {
    if (!/Can't find string offset for section name '\.note/.test(String(args[0]))) warn(...args)
  }
  try {
    await inject(tmp, 'NODE_SEA_BLOB', blob, {sentinelFuse: SEA_FUSE})
  } finally {
    console.warn = warn
  }
  chmodSync(tmp, 0o755)
  // Rename, not overwrite: a running dist/dataflow keeps its old inode (no ETXTBSY).
  renameSync(tmp, BINARY)
  return {stripped}
}

/** A quick proof that the binary starts, in a throwaway cache. */
async function selfCheck(version: string): Promise<void> {
  const cache = mkdtempSync(join(tmpdir(), 'dataflow-build-check-'))
  try {
    const result = await $({env: {...process.env, DATAFLOW_CACHE_DIR: cache}, timeout: 60_000, nothrow: true, quiet: true})`${BINARY} --version`
    if (!result.ok || !result.stdout.includes(`dataflow/${version}`)) {
      throw new Error(`built binary does not start: exit ${result.exitCode ?? result.signal}\n${result.stdout}${result.stderr}`)
    }
  } finally {
    rmSync(cache, {recursive: true, force: true})
  }
}

// ---------------------------------------------------------------------------------------------

export async function buildExecutable(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<BuildResult> {
  return withBuildLock(async () => {
    const seconds: Record<string, number> = {}
    let mark = Date.now()
    const started = mark
    const step = (name: string) => {
      const now = Date.now()
      seconds[name] = (now - mark) / 1000
      mark = now
    }
    const fingerprint = inputFingerprint()
    const pkg = readJson<PackageJson>(join(REPO, 'package.json'))
    const info = {version: pkg.version, commit: gitShortCommit(), date: buildDate()}
    rmSync(APP, {recursive: true, force: true})
    rmSync(SEA, {recursive: true, force: true})
    mkdirSync(APP, {recursive: true})
    mkdirSync(SEA, {recursive: true})

    const bundleBytes = await bundle(info)
    step('bundle')
    writeAppPackageJson(pkg)
    const {packages} = copyPackages()
    copyFonts()
    step('copy')
    log(`app: bundle ${(bundleBytes / 1e6).toFixed(2)} MB; packages: ${packages.join(', ')}`)

    const {manifest, payload} = pack(pkg)
    writeFileSync(join(SEA, 'manifest.json'), JSON.stringify(manifest))
    writeFileSync(join(SEA, 'payload.br'), payload)
    step('compress')
    log(`payload: ${manifest.files.length} files, ${(manifest.rawBytes / 1e6).toFixed(1)} MB -> ${(payload.length / 1e6).toFixed(1)} MB brotli; key ${manifest.key}`)

    const blob = makeBlob()
    step('blob')
    const {stripped} = await makeExecutable(blob)
    step('inject')
    await selfCheck(pkg.version)
    step('check')

    const binaryBytes = statSync(BINARY).size
    writeFileSync(STAMP, `${JSON.stringify({fingerprint, binaryBytes, key: manifest.key, ...info}, null, 2)}\n`)
    seconds.total = (Date.now() - started) / 1000
    log(`built ${relative(REPO, BINARY)}: ${(binaryBytes / 1e6).toFixed(1)} MB in ${seconds.total.toFixed(1)} s (${info.version}, ${info.commit}, ${info.date})`)
    return {
      binary: BINARY,
      binaryBytes,
      key: manifest.key,
      files: manifest.files.length,
      rawBytes: manifest.rawBytes,
      payloadBytes: payload.length,
      bundleBytes,
      stripped,
      seconds,
    }
  })
}

/** Builds unless dist/dataflow is current; returns null when it was. */
export async function buildIfStale(log?: (line: string) => void): Promise<BuildResult | null> {
  if (isUpToDate()) return null
  return buildExecutable(log)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ifStale = process.argv.includes('--if-stale')
  const unknown = process.argv.slice(2).filter((a) => a !== '--if-stale')
  if (unknown.length > 0) {
    process.stderr.write(`usage: tsx scripts/pkg-build.ts [--if-stale]\n`)
    process.exit(2)
  }
  try {
    const result = ifStale ? await buildIfStale() : await buildExecutable()
    if (!result) process.stderr.write(`${relative(REPO, BINARY)} is up to date\n`)
  } catch (error) {
    process.stderr.write(`pkg-build: ${(error as Error).message}\n`)
    process.exit(1)
  }
}
