// Small, fresh worlds for one stage each: the stage's input directories filled from
// test/fixtures (mtimes matching the names, as check_timestamp wants), its destination
// directories, a config file, and for every input the places it must reach and the bytes it must
// have there. A world lives in one directory and is rebuilt from scratch for every trial.
import {copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import YAML from 'yaml'

import {FIXTURES} from '../helpers/cli.js'
import type {SshdHandle} from '../helpers/sshd.js'
import {type Content, type Input, type ScanRoot, sha256} from './invariant.js'
import {runStageToEnd} from './proc.js'

export const STAGE_KINDS = ['rsync-to-nas', 'rsync-to-nas-ssh', 'rsync-to-campus', 'convert-on-campus', 'distribute-borealis-data'] as const
export type StageKind = (typeof STAGE_KINDS)[number]

/** The CLI subcommand of a kind (rsync-to-nas-ssh is rsync-to-nas for a non-NAS site, over ssh to site-linux). */
export const subcommandOf = (kind: StageKind) => (kind === 'rsync-to-nas-ssh' ? 'rsync-to-nas' : kind)

export const needsSshd = (kind: StageKind) => kind === 'rsync-to-nas-ssh' || kind === 'rsync-to-campus'

export interface World {
  kind: StageKind
  dir: string
  configFile: string
  config: Record<string, unknown>
  /** CLI arguments: the subcommand and --config. */
  args: string[]
  env: NodeJS.ProcessEnv
  roots: ScanRoot[]
  inputs: Input[]
  /** Where hostile inputs go, by what the stage picks up there. */
  inputDirs: {h5: string; bz2: string; plots?: string}
  /** Where the stage may write besides the roots (logs, state, home). */
  scratch: string[]
  /** Exit code of a clean run (3: the world holds a file the stage must quarantine). */
  cleanExit: number
  /** Rewrites the config file (after a test changed `config`). */
  writeConfig(): void
}

export interface WorldContext {
  sshd?: SshdHandle
  /** Directory for the reference conversions (outside every world). */
  refDir: string
}

const B = join(FIXTURES, 'borealis')
const fixtureCache = new Map<string, Buffer>()
export function fixture(name: string): Buffer {
  let bytes = fixtureCache.get(name)
  if (!bytes) fixtureCache.set(name, (bytes = readFileSync(join(B, name))))
  return bytes
}

/** The time in a Borealis or DMAP name (YYYYMMDD.HHMM.SS.…), else the fixtures' 2023-10-04 14:00 UTC. */
export function nameTime(name: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})\.(\d{2})(\d{2})\.(\d{2})\./.exec(name)
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : new Date(Date.UTC(2023, 9, 4, 14))
}

type Want = Content | 'same'

interface PlaceOptions {
  /** Final places: path → content ('same': the input's bytes). */
  expect?: Record<string, Want>
  /** Derived files the stage may leave beside the source. */
  intermediates?: Record<string, Content>
  mtime?: Date
  stays?: boolean
  good?: boolean
}

export class Inputs {
  readonly list: Input[] = []

  /** Writes `bytes` as `dir/name` and records it as an input. */
  place(dir: string, name: string, bytes: Uint8Array, options: PlaceOptions = {}): Input {
    mkdirSync(dir, {recursive: true})
    const source = join(dir, name)
    writeFileSync(source, bytes)
    const mtime = options.mtime ?? nameTime(name)
    utimesSync(source, mtime, mtime)
    const digest = sha256(bytes)
    const outputs: Record<string, Content> = {...options.intermediates}
    const expect = options.stays ? [source] : Object.keys(options.expect ?? {})
    for (const [path, want] of Object.entries(options.expect ?? {})) outputs[path] = want === 'same' ? {sha256: digest} : want
    if (options.stays) outputs[source] = {sha256: digest}
    const input: Input = {name, source, sha256: digest, expect, outputs, stays: options.stays, good: options.good ?? true}
    this.list.push(input)
    return input
  }
}

function commonConfig(dir: string): Record<string, unknown> {
  return {
    radar: 'sas',
    logging: {directory: join(dir, 'logs')},
    state: {directory: join(dir, 'state')},
    retry: {attempts: 2, initialDelayMs: 100, maxDelayMs: 200},
    timeouts: {sshConnectSeconds: 5, ioSeconds: 20, commandSeconds: 60},
  }
}

function finish(kind: StageKind, dir: string, config: Record<string, unknown>, inputs: Inputs, roots: ScanRoot[], inputDirs: World['inputDirs']): World {
  const configFile = join(dir, 'config.yaml')
  const home = join(dir, 'home')
  mkdirSync(home, {recursive: true})
  const world: World = {
    kind,
    dir,
    configFile,
    config,
    args: [subcommandOf(kind), '--config', configFile],
    env: {HOME: home},
    roots,
    inputs: inputs.list,
    inputDirs,
    scratch: [join(dir, 'logs'), join(dir, 'state'), home, configFile],
    cleanExit: kind === 'convert-on-campus' || kind === 'distribute-borealis-data' ? 3 : 0,
    writeConfig: () => writeFileSync(configFile, YAML.stringify(world.config)),
  }
  world.writeConfig()
  return world
}

const bz2 = (sha: string): Content => ({bz2: sha})

function rsyncToNasWorld(dir: string, ctx: WorldContext, ssh: boolean): World {
  const data = join(dir, 'borealis', 'data')
  const quarantine = join(dir, 'borealis', 'quarantine')
  const root = ssh ? join(dir, 'site-linux', 'borealis_data') : join(dir, 'nas')
  // The NAS is mounted: its data root exists (a missing one is the "NAS not mounted" fault).
  if (!ssh) mkdirSync(root, {recursive: true})
  const config = {
    ...commonConfig(dir),
    borealis: {dataDirectory: data, quarantineDirectory: quarantine},
    site: ssh ? {nasDataRoot: join(dir, 'no-nas'), siteLinuxDataRoot: root} : {nasDataRoot: root},
    ...(ssh ? {nasSites: ['pgr'], hosts: {siteLinux: ctx.sshd!.host}} : {}),
  }
  const inputs = new Inputs()
  const copies = (route: string, name: string, want: Want = 'same') =>
    ssh ? {[join(root, route, name)]: want} : {[join(root, route, name)]: want, [join(root, 'backup', name)]: want}
  // Borealis writes into dated subdirectories as well: the walk is recursive.
  for (const name of ['20231004.1400.00.sas.0.rawacf.h5', '20231004.1400.00.pgr.1.rawacf.h5']) {
    inputs.place(join(data, '20231004'), name, fixture(name), {expect: copies('rawacf_array', name)})
  }
  const iq = '20231004.1400.00.sas.0.antennas_iq.h5'
  if (ssh) inputs.place(data, iq, fixture(iq), {stays: true})
  else inputs.place(data, iq, fixture(iq), {expect: {[join(root, 'antennas_iq_array', iq)]: 'same'}})
  const dmap = '20231004.1400.51.rkn.d.rawacf'
  const dmapSha = sha256(fixture(dmap))
  inputs.place(data, dmap, fixture(dmap), {expect: copies('rawacf_dmap', `${dmap}.bz2`, bz2(dmapSha)), intermediates: {[join(data, `${dmap}.bz2`)]: bz2(dmapSha)}})
  const bz = '20231004.1400.00.sas.a.rawacf.bz2'
  inputs.place(data, bz, fixture(bz), {expect: copies('rawacf_dmap', bz)})
  // Name and mtime a year apart: check_timestamp fails, the file goes to conversion_failure/.
  const skewed = '20231004.1600.00.cly.0.rawacf.h5'
  inputs.place(data, skewed, fixture(skewed), {mtime: new Date('2025-01-01T00:00:00Z'), expect: {[join(root, 'conversion_failure', skewed)]: 'same'}})
  const roots: ScanRoot[] = [
    {path: data, kind: 'source'},
    {path: root, kind: 'final'},
    {path: join(root, 'conversion_failure'), kind: 'quarantine'},
    {path: quarantine, kind: 'quarantine'},
  ]
  return finish(ssh ? 'rsync-to-nas-ssh' : 'rsync-to-nas', dir, config, inputs, roots, {h5: data, bz2: data})
}

function rsyncToCampusWorld(dir: string, ctx: WorldContext): World {
  const nas = join(dir, 'site', 'nas')
  const plots = join(dir, 'site', 'daily_plots')
  const campus = join(dir, 'campus')
  const dataDir = join(campus, 'sddata', 'sas_data')
  const holding = join(campus, 'sddata', 'sas_holding_dir')
  const plotsDir = join(campus, 'plots', 'sas')
  // The campus directories exist (a missing one is the "campus disk not mounted" fault).
  for (const d of [dataDir, holding, plotsDir]) mkdirSync(d, {recursive: true})
  const config = {
    ...commonConfig(dir),
    site: {nasDataRoot: nas, plotDirectory: plots, quarantineDirectory: join(dir, 'site', 'quarantine')},
    campus: {dataDirectory: join(campus, 'sddata', '{radar}_data'), holdingDirectory: join(campus, 'sddata', '{radar}_holding_dir'), plotsDirectory: join(campus, 'plots', '{radar}')},
    hosts: {campus: ctx.sshd!.host},
  }
  const inputs = new Inputs()
  for (const name of ['20231004.1400.00.sas.a.rawacf.bz2', '20231004.1400.00.pgr.b.rawacf.bz2', '20231004.1400.51.rkn.d.rawacf.bz2']) {
    inputs.place(join(nas, 'rawacf_dmap'), name, fixture(name), {expect: {[join(dataDir, name)]: 'same'}})
  }
  for (const name of ['20231004.1400.00.sas.0.rawacf.h5', '20231004.1400.00.pgr.1.rawacf.h5']) {
    inputs.place(join(nas, 'rawacf_array'), name, fixture(name), {expect: {[join(holding, name)]: 'same'}})
  }
  for (const name of ['20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg', '20231004.1400.00.sas.0.antennas_iq.antenna_19_0_70.jpg']) {
    inputs.place(plots, name, fixture(name), {expect: {[join(plotsDir, name)]: 'same'}})
  }
  const roots: ScanRoot[] = [
    {path: nas, kind: 'source'},
    {path: plots, kind: 'source'},
    {path: join(dir, 'site', 'quarantine'), kind: 'quarantine'},
    {path: campus, kind: 'final'},
  ]
  return finish('rsync-to-campus', dir, config, inputs, roots, {h5: join(nas, 'rawacf_array'), bz2: join(nas, 'rawacf_dmap'), plots})
}

const refCache = new Map<string, string>()
let refRuns = 0

/**
 * sha256 of the uncompressed DMAP a clean conversion of each file gives, by `dataflow convert`
 * (the same converter, called directly, not through the stage): the record field `combf` holds the
 * input's path, so the reference is made from the very path the stage will convert. Cached.
 */
export async function referenceConversions(paths: readonly string[], refDir: string): Promise<Map<string, string>> {
  const key = (p: string) => `${p}\0${sha256(readFileSync(p))}`
  const todo = paths.filter((p) => !refCache.has(key(p)))
  if (todo.length > 0) {
    const out = join(refDir, `ref-${process.pid}-${refRuns++}`)
    const {exit, run} = await runStageToEnd(['convert', '--no-compress', '--output-dir', out, ...todo])
    if (exit.code !== 0) throw new Error(`reference conversion failed (exit ${exit.code}): ${run.stderr().slice(-500)}`)
    for (const p of todo) {
      const dmap = basename(p).replace(/\.(\d+)\.rawacf\.h5$/, (_, slice: string) => `.${String.fromCharCode(97 + Number(slice))}.rawacf`)
      refCache.set(key(p), sha256(readFileSync(join(out, dmap))))
    }
    rmSync(out, {recursive: true, force: true})
  }
  return new Map(paths.map((p) => [p, refCache.get(key(p))!]))
}

/** The DMAP name the converter gives a `.N.rawacf.h5` file. */
export const dmapNameOf = (h5: string) => h5.replace(/\.(\d+)\.rawacf\.h5$/, (_, slice: string) => `.${String.fromCharCode(97 + Number(slice))}.rawacf.bz2`)

async function convertWorld(dir: string, ctx: WorldContext): Promise<World> {
  const holding = join(dir, 'campus', 'holding', 'sas')
  const data = join(dir, 'campus', 'data', 'sas')
  const failure = join(dir, 'campus', 'conversion_failure')
  const config = {
    ...commonConfig(dir),
    campus: {holdingDirectory: join(dir, 'campus', 'holding', '{radar}'), dataDirectory: join(dir, 'campus', 'data', '{radar}'), conversionFailureDirectory: failure},
  }
  const inputs = new Inputs()
  // Two conversions (of the same radar's block and of a 16-beam wide-beam file): conversion is the
  // costly part of this stage.
  const h5s = ['20231004.1400.00.sas.0.rawacf.h5', '20231004.1600.00.cly.0.rawacf.h5']
  for (const name of h5s) copyFileSync(join(B, name), join(mkdirp(holding), name))
  const refs = await referenceConversions(h5s.map((n) => join(holding, n)), ctx.refDir)
  for (const name of h5s) {
    const dmap = dmapNameOf(name)
    const ref = bz2(refs.get(join(holding, name))!)
    inputs.place(holding, name, fixture(name), {expect: {[join(data, name)]: 'same', [join(data, dmap)]: ref}, intermediates: {[join(holding, dmap)]: ref}})
  }
  // Converted on site already: moved through.
  const site = '20231004.1400.51.rkn.d.rawacf.bz2'
  inputs.place(holding, site, fixture(site), {expect: {[join(data, site)]: 'same'}})
  // Truncated: fails to convert, goes to the failure directory with a reason.
  const truncated = '20231004.1800.00.sas.0.rawacf.h5'
  inputs.place(holding, truncated, fixture('20231004.1400.00.sas.0.rawacf.h5').subarray(0, 500_000), {expect: {[join(failure, truncated)]: 'same'}})
  const roots: ScanRoot[] = [
    {path: holding, kind: 'source'},
    {path: data, kind: 'final'},
    {path: failure, kind: 'quarantine'},
  ]
  return finish('convert-on-campus', dir, config, inputs, roots, {h5: holding, bz2: holding})
}

function distributeWorld(dir: string): World {
  const c = (...parts: string[]) => join(dir, 'campus', ...parts)
  const data = c('sddata', 'sas_data')
  const failure = c('sddata', 'conversion_failure')
  const special = c('sddata', 'special_experiments')
  const archive = c('archive')
  const staging = [c('outgoing', 'vt', 'sas'), c('outgoing', 'bas', 'sas'), c('holding', 'globus')]
  const config = {
    ...commonConfig(dir),
    campus: {
      dataDirectory: c('sddata', '{radar}_data'),
      conversionFailureDirectory: failure,
      specialExperimentsDirectory: special,
      archiveRoot: archive,
      staging: [
        {name: 'vt', path: c('outgoing', 'vt', '{radar}'), mode: '664'},
        {name: 'bas', path: c('outgoing', 'bas', '{radar}'), mode: '664'},
        {name: 'mirror', path: c('holding', 'globus'), mode: '664'},
      ],
    },
  }
  const inputs = new Inputs()
  for (const [dmap, h5] of [
    ['20231004.1400.00.sas.a.rawacf.bz2', '20231004.1400.00.sas.0.rawacf.h5'],
    ['20231004.1400.00.pgr.b.rawacf.bz2', '20231004.1400.00.pgr.1.rawacf.h5'],
  ] as const) {
    const expect: Record<string, Want> = {[join(archive, 'sas_rawacf_dmap', '2023', '10', dmap)]: 'same'}
    for (const dir of staging) expect[join(dir, dmap)] = 'same'
    inputs.place(data, dmap, fixture(dmap), {expect})
    inputs.place(data, h5, fixture(h5), {expect: {[join(archive, 'sas_rawacf', '2023', '10', h5)]: 'same'}})
  }
  // CPID 197: a special experiment's DMAP file goes to special_experiments/; its HDF5 partner is
  // archived with the others in <rad>_rawacf/YYYY/MM/, as the original did.
  const specialDmap = '20231004.1400.51.rkn.d.rawacf.bz2'
  inputs.place(data, specialDmap, fixture(specialDmap), {expect: {[join(special, '2023', '10', specialDmap)]: 'same'}})
  const specialH5 = '20231004.1400.51.rkn.3.rawacf.h5'
  inputs.place(data, specialH5, fixture(specialH5), {expect: {[join(archive, 'sas_rawacf', '2023', '10', specialH5)]: 'same'}})
  // A corrupt bzip2 stream: to the failure directory, and its HDF5 partner with it.
  const corrupt = readFileSync(join(FIXTURES, 'dmap', 'corrupt', 'test.rawacf.bz2.corrupt'))
  inputs.place(data, '20231004.1600.00.sas.b.rawacf.bz2', corrupt, {expect: {[join(failure, '20231004.1600.00.sas.b.rawacf.bz2')]: 'same'}})
  inputs.place(data, '20231004.1600.00.sas.1.rawacf.h5', fixture('20231004.1600.00.cly.0.rawacf.h5'), {expect: {[join(failure, '20231004.1600.00.sas.1.rawacf.h5')]: 'same'}})
  const roots: ScanRoot[] = [
    {path: data, kind: 'source'},
    ...staging.map((path) => ({path, kind: 'final' as const})),
    {path: archive, kind: 'final'},
    {path: special, kind: 'final'},
    {path: failure, kind: 'quarantine'},
  ]
  return finish('distribute-borealis-data', dir, config, inputs, roots, {h5: data, bz2: data})
}

function mkdirp(dir: string): string {
  mkdirSync(dir, {recursive: true})
  return dir
}

/** A fresh world for `kind` in `dir` (whatever was there is removed first). */
export async function buildWorld(kind: StageKind, dir: string, ctx: WorldContext): Promise<World> {
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  if (needsSshd(kind) && !ctx.sshd) throw new Error(`${kind} needs an sshd`)
  switch (kind) {
    case 'rsync-to-nas':
      return rsyncToNasWorld(dir, ctx, false)
    case 'rsync-to-nas-ssh':
      return rsyncToNasWorld(dir, ctx, true)
    case 'rsync-to-campus':
      return rsyncToCampusWorld(dir, ctx)
    case 'convert-on-campus':
      return convertWorld(dir, ctx)
    case 'distribute-borealis-data':
      return distributeWorld(dir)
  }
}

/** Every directory a world's stage is allowed to write in: its scan roots and scratch paths. */
export function allowedPaths(world: World): string[] {
  return [...world.roots.map((r) => r.path), ...world.scratch].filter((p, i, all) => all.indexOf(p) === i)
}
