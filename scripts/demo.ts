// `npm run demo`: the whole data flow of one radar (sas) on a local sandbox under ./demo-sandbox.
// Three hosts, each a directory tree with its own config: the radar computer (borealis), the site
// computer (site-linux, which also holds the site NAS) and campus. The daemons run as separate
// processes (`dataflow daemon --role …`), site-linux and campus reached over ssh through a private
// sshd on 127.0.0.1, exactly as on a real site. Every step is a real `dataflow` command run as a
// child process.
//
// The radar's files are all sas files whose names, contents and modification times agree: a
// backlog block from 2023 (the reference fixture itself, so its conversion can be compared with
// pyDARNio's), the block that ended an hour ago (rawacf + antennas_iq, re-timed copies of the
// fixtures: its antennas_iq file is plotted, as the site plots the last two hours) and the first
// file of the block being written now (the trigger). The demo waits until each file has reached
// every place it must end up, checks each copy's hash, prints one table, and exits 0 only if
// every file arrived and every check passed.
import {spawn, spawnSync} from 'node:child_process'
import {copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import YAML from 'yaml'
import {$} from 'zx'

import {copyBorealisFile, shiftRecordTime} from '../src/lib/formats/hdf5/write.js'
import {hashBytes, hashFile} from '../src/lib/hash.js'
import {FIXTURES} from '../test/helpers/cli.js'
import {SSHD_PATH, startSshd, type SshdHandle} from '../test/helpers/sshd.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SANDBOX = join(REPO, 'demo-sandbox')
const BOREALIS_FIXTURES = join(FIXTURES, 'borealis')
const ROLES = ['borealis', 'site-linux', 'campus'] as const
type Role = (typeof ROLES)[number]
const RADAR = 'sas'
const ARRIVAL_DEADLINE_MS = 240_000

const started = Date.now()
const show = (path: string) => relative(REPO, path)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const sha256 = (bytes: Uint8Array) => hashBytes(bytes, 'sha256')
const sha256File = (path: string) => hashFile(path, 'sha256')

function fail(message: string): never {
  console.error(`demo failed: ${message}`)
  process.exit(1)
}

function dataflow(args: string[], cwd = REPO): string {
  const shown = ['dataflow', ...args].map((a) => (a.startsWith(SANDBOX) ? show(a) : a)).join(' ')
  console.log(`\n$ ${shown}`)
  const result = $.sync({cwd, env: {...process.env, DATAFLOW_CONFIG: ''}, nothrow: true, quiet: true})`${process.execPath} --import tsx ${join(REPO, 'bin', 'dev.js')} ${args}`
  // JSON event lines also go to the stage's log file: show a count here, not the lines.
  const lines = `${result.stdout}${result.stderr}`.trimEnd().split('\n')
  const events = lines.filter((l) => l.startsWith('{"level"'))
  const shownLines = lines.filter((l) => !l.startsWith('{"level"') && l !== '')
  if (shownLines.length > 0) console.log(shownLines.map((l) => `  ${l}`).join('\n'))
  if (events.length > 0) console.log(`  (${events.length} JSON event lines, also in the stage's log file)`)
  if (!result.ok) fail(`step exited ${result.exitCode}: ${shown}`)
  return result.stdout
}

// ---------------------------------------------------------------------------------------------
// The sandbox: one tree per host, one config per host (the same configs for the one-off commands,
// the generated systemd units and the daemons).

rmSync(SANDBOX, {recursive: true, force: true})
const root = (role: Role, ...parts: string[]) => join(SANDBOX, role, ...parts)
console.log(`dataflow demo: the data flow of radar ${RADAR} in ${show(SANDBOX)}/ (one directory per host)`)
if (!existsSync(SSHD_PATH)) fail(`${SSHD_PATH} is missing (install openssh-server): site-linux and campus are reached over ssh`)
const sshd: SshdHandle = await startSshd(join(SANDBOX, 'sshd'))
console.log(`private sshd on 127.0.0.1:${sshd.host.port}: site-linux and campus are reached as ${sshd.host.target}`)

const common = {
  radar: RADAR,
  borealis: {
    dataDirectory: root('borealis', 'data', 'borealis_data'),
    flagsDirectory: root('borealis', 'data_flow', '.inotify_flags'),
    quarantineDirectory: root('borealis', 'data', 'borealis_quarantine'),
    // Short for the demo (defaults 60 s and 300 s): how long a file must be unchanged.
    settleSeconds: 2,
    untriggeredSettleSeconds: 5,
  },
  site: {
    // The site NAS is mounted on both site hosts: in the sandbox it lives in the site-linux tree.
    nasDataRoot: root('site-linux', 'borealis_nfs', 'borealis_data'),
    camDirectory: root('site-linux', 'borealis_nfs', 'cam'),
    plotDirectory: root('site-linux', 'logs', 'daily_plots'),
    watchDirectory: root('site-linux', 'data_flow', '.inotify_watchdir'),
    flagsDirectory: root('site-linux', 'data_flow', '.inotify_flags'),
  },
  campus: {
    dataDirectory: root('campus', 'sddata', '{radar}_data'),
    holdingDirectory: root('campus', 'sddata', '{radar}_holding_dir'),
    conversionFailureDirectory: root('campus', 'sddata', 'conversion_failure'),
    specialExperimentsDirectory: root('campus', 'sddata', 'special_experiments'),
    archiveRoot: root('campus', 'data', 'borealis_site_data'),
    plotsDirectory: root('campus', 'sddata', 'antennas_iq_plots', '{radar}_iq_plots'),
    plotsArchiveDirectory: root('campus', 'sddata', 'antennas_iq_plots', '{radar}_iq_plots', 'archive'),
    camRoot: root('campus', 'cam'),
    staging: [
      {name: 'vt', path: root('campus', 'outgoing', 'vt', '{radar}'), mode: '664'},
      {name: 'bas', path: root('campus', 'outgoing', 'bas', '{radar}'), mode: '664'},
      {name: 'mirror', path: root('campus', 'holding', 'globus'), mode: '664'},
    ],
    watchDirectory: root('campus', 'data_flow', '.inotify_watchdir'),
  },
  retry: {attempts: 2, initialDelayMs: 500, maxDelayMs: 1000},
  timeouts: {sshConnectSeconds: 5, ioSeconds: 60},
  // Short for the demo (default 10 minutes).
  daemon: {rescanIntervalMinutes: 0.1},
}
const radarDir = common.borealis.dataDirectory
const nas = common.site.nasDataRoot
const campusDir = (template: string) => template.replaceAll('{radar}', RADAR)

const configs = {} as Record<Role, string>
for (const role of ROLES) {
  const config: Record<string, unknown> = {...common, logging: {directory: root(role, 'logs')}, state: {directory: root(role, 'state')}}
  if (role === 'borealis') config.hosts = {siteLinux: sshd.host}
  if (role === 'site-linux') config.hosts = {campus: sshd.host}
  configs[role] = root(role, 'config.yaml')
  mkdirSync(root(role), {recursive: true})
  writeFileSync(configs[role], `# demo config for the ${role} host of radar ${RADAR} (generated by scripts/demo.ts)\n${YAML.stringify(config)}`)
}
for (const dir of [radarDir, nas, common.site.watchDirectory, common.campus.watchDirectory]) mkdirSync(dir, {recursive: true})

console.log('\n== the configuration and the services of each host ==')
for (const role of ROLES) {
  // The commented example an operator starts from, beside the config the demo uses.
  dataflow(['config', 'init', '--role', role, '--radar', RADAR, '--output', root(role, 'config.example.yaml')])
  dataflow(['config', 'validate', '--config', configs[role]])
}
dataflow(['config', 'show', '--config', configs.campus])
const fakeBinary = join(SANDBOX, 'bin', 'dataflow')
mkdirSync(dirname(fakeBinary), {recursive: true})
copyFileSync('/bin/true', fakeBinary)
for (const role of ROLES) {
  const args = ['install-service', '--role', role, '--config', configs[role], '--binary', fakeBinary, '--output-dir', root(role, 'systemd')]
  dataflow(role === 'campus' ? [...args, '--radar', RADAR] : args)
}
dataflow(['doctor', '--config', configs.borealis])

// ---------------------------------------------------------------------------------------------
// The radar's files, prepared beside the sandbox's hosts (demo-sandbox/input/) with their hashes.

const pad2 = (n: number) => String(n).padStart(2, '0')
const stamp = (t: Date) => `${t.getUTCFullYear()}${pad2(t.getUTCMonth() + 1)}${pad2(t.getUTCDate())}.${pad2(t.getUTCHours())}${pad2(t.getUTCMinutes())}.${pad2(t.getUTCSeconds())}`
const hourStart = (hoursAgo: number) => new Date((Math.floor(Date.now() / 3_600_000) - hoursAgo) * 3_600_000)
const FIXTURE_TIME = new Date(Date.UTC(2023, 9, 4, 14, 0, 0))

interface Input {
  name: string
  /** What the file is in the story. */
  role: string
  path: string
  sha256: string
  mtime: Date
  kind: 'rawacf' | 'antennas_iq'
}
const inputDir = join(SANDBOX, 'input')
mkdirSync(inputDir, {recursive: true})

/** A fixture as the radar would have written it at `start`: name, record names and sequence times moved together. */
async function radarFile(fixture: string, start: Date, mtime: Date, role: string): Promise<Input> {
  const name = fixture.replace(stamp(FIXTURE_TIME), stamp(start))
  const path = join(inputDir, name)
  const shift = (start.getTime() - FIXTURE_TIME.getTime()) / 1000
  if (shift === 0) copyFileSync(join(BOREALIS_FIXTURES, fixture), path)
  else await copyBorealisFile(join(BOREALIS_FIXTURES, fixture), path, {record: (r) => shiftRecordTime(r, shift)})
  return {name, role, path, sha256: await sha256File(path), mtime, kind: fixture.includes('.antennas_iq.') ? 'antennas_iq' : 'rawacf'}
}
const ended = hourStart(1)
const current = hourStart(0)
const inputs: Input[] = [
  await radarFile('20231004.1400.00.sas.0.rawacf.h5', FIXTURE_TIME, new Date(FIXTURE_TIME.getTime() + 7_200_000), 'backlog (the 2023 fixture)'),
  await radarFile('20231004.1400.00.sas.0.rawacf.h5', ended, current, 'the block that ended'),
  await radarFile('20231004.1400.00.sas.0.antennas_iq.h5', ended, current, 'the block that ended'),
  await radarFile('20231004.1400.00.sas.0.rawacf.h5', current, new Date(), 'the block being written'),
]

// ---------------------------------------------------------------------------------------------
// The three daemons.

console.log('\n== the three daemons (dataflow daemon --role …) ==')
interface Running {
  role: Role
  events: Array<Record<string, unknown>>
  exit: Promise<number | null>
  kill: (signal: NodeJS.Signals) => void
}
function startDaemon(role: Role): Running {
  // node's spawn, not zx: SIGTERM must reach the daemon alone (as systemd's KillMode=mixed sends
  // it), and zx's kill() signals the whole process tree, the daemon's ssh and rsync included.
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bin', 'dev.js'), 'daemon', '--role', role, '--config', configs[role]], {
    cwd: REPO,
    env: {...process.env, DATAFLOW_CONFIG: ''},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out = createWriteStream(root(role, 'daemon.out'))
  const events: Array<Record<string, unknown>> = []
  let partial = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out.write(chunk)
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      try {
        if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>)
      } catch {}
    }
  })
  child.stderr.on('data', (chunk: Buffer) => out.write(chunk))
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {role, events, exit, kill: (signal) => child.kill(signal)}
}
const running: Running[] = []
async function stopDaemons(): Promise<Array<number | null>> {
  for (const daemon of running) daemon.kill('SIGTERM')
  const exits = await Promise.all(running.map((d) => d.exit))
  await sshd.stop()
  return exits
}
for (const role of ['campus', 'site-linux', 'borealis'] as const) {
  const daemon = startDaemon(role)
  running.push(daemon)
  const deadline = Date.now() + 30_000
  while (!daemon.events.some((e) => e.event === 'daemon.ready')) {
    if (Date.now() > deadline) {
      await stopDaemons()
      fail(`the ${role} daemon did not start; see ${show(root(role, 'daemon.out'))}`)
    }
    await sleep(100)
  }
  const ready = daemon.events.find((e) => e.event === 'daemon.ready')!
  console.log(`  ${role.padEnd(10)} ready (${String(ready.watchMode)}), log ${show(root(role, 'daemon.out'))}`)
}

// Where each file must end up: the original's layout, from the configs above.
interface Place {
  host: 'site NAS' | 'campus'
  path: string
  /** What the file there is checked against. */
  check: 'same as input' | 'converted' | 'plot'
}
const yyyymm = (name: string) => [name.slice(0, 4), name.slice(4, 6)] as const
const dmapName = (name: string) => name.replace(/\.0\.rawacf\.h5$/, '.a.rawacf.bz2')
function placesOf(input: Input): Place[] {
  const [yyyy, mm] = yyyymm(input.name)
  if (input.kind === 'antennas_iq') {
    const plots = campusDir(common.campus.plotsDirectory)
    const prefix = input.name.split('.').slice(0, 6).join('.')
    return [
      {host: 'site NAS', path: join(nas, 'antennas_iq_array', input.name), check: 'same as input'},
      ...Array.from({length: 20}, (_, n): Place => ({host: 'campus', path: join(plots, `${prefix}.antenna_${n}_0_70.jpg`), check: 'plot'})),
    ]
  }
  const dmap = dmapName(input.name)
  return [
    {host: 'site NAS', path: join(nas, 'backup', input.name), check: 'same as input'},
    {host: 'campus', path: join(common.campus.archiveRoot, `${RADAR}_rawacf`, yyyy, mm, input.name), check: 'same as input'},
    ...common.campus.staging.map((s): Place => ({host: 'campus', path: join(campusDir(s.path), dmap), check: 'converted'})),
    {host: 'campus', path: join(common.campus.archiveRoot, `${RADAR}_rawacf_dmap`, yyyy, mm, dmap), check: 'converted'},
  ]
}
const expected = new Map(inputs.map((input) => [input, placesOf(input)]))
const arrivedAt = new Map<string, number>()

const dropped = Date.now()
for (const input of inputs) {
  const target = join(radarDir, input.name)
  copyFileSync(input.path, target)
  utimesSync(target, input.mtime, input.mtime)
}
console.log(`\ndropped ${inputs.length} files into the radar's data directory ${show(radarDir)}/:`)
for (const input of inputs) console.log(`  ${input.name}  ${input.role}`)

const busy = () =>
  running.some((d) => {
    const starts = d.events.filter((e) => e.event === 'chain.start').length
    const dones = d.events.filter((e) => e.event === 'chain.done')
    return starts > dones.length || Date.now() - Date.parse(String((dones.at(-1)?.time as string | undefined) ?? 0)) < 3000
  })
const allPlaces = [...expected.values()].flat()
const deadline = dropped + ARRIVAL_DEADLINE_MS
while (Date.now() < deadline) {
  for (const place of allPlaces) if (!arrivedAt.has(place.path) && existsSync(place.path)) arrivedAt.set(place.path, Date.now())
  if (arrivedAt.size === allPlaces.length && !busy()) break
  await sleep(200)
}
const exits = await stopDaemons()
console.log(`\ndaemons stopped with SIGTERM: exit ${running.map((d, i) => `${d.role} ${exits[i]}`).join(', ')}; chain runs: ${running.map((d) => `${d.role} ${d.events.filter((e) => e.event === 'chain.start').length}`).join(', ')}`)

// ---------------------------------------------------------------------------------------------
// Checks: every copy re-read and hashed. A DMAP file must decompress to the bytes `dataflow
// convert` makes from the input on its own (and, for the 2023 fixture, to pyDARNio's reference).

console.log('\n== checking every copy: the DMAP files against conversions of the inputs made here ==')
const checkDir = join(SANDBOX, 'check')
mkdirSync(checkDir, {recursive: true})
const references = new Map(
  readFileSync(join(BOREALIS_FIXTURES, 'reference.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as {input: string; rawacf_sha256: string})
    .map((r) => [r.input, r.rawacf_sha256]),
)
/** What `dataflow convert` makes of the input from the path campus converted it at (combf records that path). */
async function convertedSha256(input: Input): Promise<string> {
  const at = join(campusDir(common.campus.holdingDirectory), input.name)
  copyFileSync(input.path, at)
  try {
    dataflow(['convert', '--no-compress', '--output-dir', checkDir, at])
  } finally {
    rmSync(at, {force: true})
  }
  return await sha256File(join(checkDir, dmapName(input.name).replace(/\.bz2$/, '')))
}
function bunzip(path: string): Buffer | null {
  // node's spawnSync, not zx: zx decodes a child's output as UTF-8 text, and this is binary.
  const result = spawnSync('bzip2', ['-dc', path], {maxBuffer: 1 << 30})
  return result.status === 0 ? result.stdout : null
}
const isJpeg = (bytes: Buffer) => bytes.length > 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes.at(-2) === 0xff && bytes.at(-1) === 0xd9

interface Row {
  input: Input
  place: Place
  ok: boolean
  detail: string
  seconds: number | null
}
const rows: Row[] = []
for (const [input, places] of expected) {
  const converted = input.kind === 'rawacf' ? await convertedSha256(input) : null
  for (const place of places) {
    const at = arrivedAt.get(place.path)
    const seconds = at === undefined ? null : (at - dropped) / 1000
    if (!existsSync(place.path)) {
      rows.push({input, place, ok: false, detail: 'MISSING', seconds})
      continue
    }
    const bytes = readFileSync(place.path)
    if (place.check === 'same as input') {
      const ok = sha256(bytes) === input.sha256
      rows.push({input, place, ok, detail: ok ? `sha256 ${input.sha256.slice(0, 12)}… = input` : `sha256 ${sha256(bytes).slice(0, 12)}… ≠ input ${input.sha256.slice(0, 12)}…`, seconds})
    } else if (place.check === 'converted') {
      const plain = bunzip(place.path)
      const got = plain ? sha256(plain) : null
      const ok = got !== null && got === converted
      rows.push({input, place, ok, detail: got === null ? 'not a valid bzip2 stream' : `unpacked sha256 ${got.slice(0, 12)}… ${ok ? '=' : '≠'} converted input`, seconds})
    } else {
      const ok = isJpeg(bytes)
      rows.push({input, place, ok, detail: ok ? `JPEG, ${bytes.length} bytes` : 'not a complete JPEG', seconds})
    }
  }
}
// The converter itself against the reference implementation: the 2023 fixture converted from its
// bare name, as pyDARNio was called, gives pyDARNio's bytes.
const fixtureInput = inputs[0]!
const bare = join(checkDir, 'reference')
mkdirSync(bare, {recursive: true})
copyFileSync(fixtureInput.path, join(bare, fixtureInput.name))
dataflow(['convert', '--no-compress', fixtureInput.name], bare)
const referenceSha = references.get(fixtureInput.name)
const fixtureSha = await sha256File(join(bare, dmapName(fixtureInput.name).replace(/\.bz2$/, '')))
const referenceOk = fixtureSha === referenceSha
const leftOnRadar = readdirSync(radarDir).filter((n) => statSync(join(radarDir, n)).isFile())

// ---------------------------------------------------------------------------------------------
// The table.

const hostRoot = (place: Place) => (place.host === 'site NAS' ? nas : root('campus'))
const W = {file: 38, host: 9, where: 50, check: 48}
const line = (file: string, host: string, where: string, check: string, after: string) =>
  `${file.padEnd(W.file)} ${host.padEnd(W.host)} ${where.padEnd(W.where)} ${check.padEnd(W.check)} ${after.padStart(7)}`
const secondsText = (s: number | null | undefined) => (s === null || s === undefined || Number.isNaN(s) ? '' : `${s.toFixed(1)} s`)
console.log(`\n== where each file ended up: every copy re-read and hashed by the demo; time after the drop ==\n`)
console.log(line('file dropped on the radar', 'host', 'directory', 'check', 'arrived'))
const totals: Array<{input: Input; places: number; verified: number; seconds: number | null}> = []
for (const [input] of expected) {
  const mine = rows.filter((r) => r.input === input)
  // Rows of one block, each name printed once: the input, then the DMAP file made from it.
  const labels = [input.name, `  ${input.role}`]
  const label = () => labels.shift() ?? ''
  let dmapShown = false
  for (const row of mine.filter((r) => r.place.check !== 'plot')) {
    if (row.place.check === 'converted' && !dmapShown) {
      dmapShown = true
      labels.length = 0
      labels.push(`→ ${basename(row.place.path)}`)
    }
    const where = `${relative(hostRoot(row.place), dirname(row.place.path))}/`
    console.log(line(label(), row.place.host, where, `${row.ok ? '' : 'FAIL '}${row.detail}`, secondsText(row.seconds)))
  }
  const plots = mine.filter((r) => r.place.check === 'plot')
  if (plots.length > 0) {
    const good = plots.filter((r) => r.ok).length
    labels.length = 0
    labels.push(`→ ${plots.length} plots ….antenna_N_0_70.jpg`)
    const where = `${relative(root('campus'), dirname(plots[0]!.place.path))}/`
    console.log(line(label(), 'campus', where, `${good === plots.length ? '' : 'FAIL '}${good} of ${plots.length} complete JPEGs`, secondsText(Math.max(...plots.map((r) => r.seconds ?? Number.NaN)))))
  }
  const arrival = mine.every((r) => r.seconds !== null) ? Math.max(...mine.map((r) => r.seconds!)) : null
  totals.push({input, places: mine.length, verified: mine.filter((r) => r.ok).length, seconds: arrival})
}
console.log(`\n${'file'.padEnd(W.file)} ${'places'.padStart(6)} ${'verified'.padStart(8)}  radar → archive`)
for (const t of totals) console.log(`${t.input.name.padEnd(W.file)} ${String(t.places).padStart(6)} ${String(t.verified).padStart(8)}  ${t.seconds === null ? 'NOT ARRIVED' : secondsText(t.seconds)}`)
console.log(`\nconverter vs reference: dataflow convert ${fixtureInput.name} ${referenceOk ? '=' : '≠'} pyDARNio's reference bytes (sha256 ${fixtureSha.slice(0, 12)}…${referenceOk ? '' : `, reference ${String(referenceSha).slice(0, 12)}…`})`)
const complete = rows.every((r) => r.ok) && leftOnRadar.length === 0 && referenceOk
console.log(`\nradar data directory: ${leftOnRadar.length === 0 ? 'empty (every source deleted only after its copies were verified)' : `still holds ${leftOnRadar.join(', ')}`}`)
console.log(`logs: ${ROLES.map((role) => show(root(role, 'logs'))).join(', ')}; daemon output: ${ROLES.map((role) => show(root(role, 'daemon.out'))).join(', ')}`)
console.log(`\ndemo ${complete ? 'finished' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${rows.filter((r) => r.ok).length} of ${rows.length} places verified for ${inputs.length} files`)
if (!complete || exits.some((code) => code !== 0)) process.exit(1)
