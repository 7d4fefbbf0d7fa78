// The three-host world of the end-to-end tests: a borealis, a site-linux and a campus "host", each
// with its own directory root, config file and daemon process, connected through one real sshd
// (site-linux and campus are reached as <user>@127.0.0.1 with per-host roots). The NAS is shared by
// the borealis and site-linux hosts, as at a real site. Fixture files go into the borealis data
// directory with modification times matching their names; verify() then checks where every file
// ended up, byte for byte, and that every source was removed only after a verified copy.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import YAML from 'yaml'

import {readDmap} from '../src/lib/formats/dmap/reader.js'
import {type DaemonEvent, type DaemonProcess, spawnDaemon, treeFiles} from './daemon-process.js'
import {FIXTURES} from './helpers/cli.js'
import type {HostRoot, Sandbox} from './helpers/hosts.js'
import type {SshdHandle} from './helpers/sshd.js'
import {eventually} from './helpers/wait.js'

const BOREALIS = join(FIXTURES, 'borealis')
const RADAR = 'sas'
const pad = (n: number) => String(n).padStart(2, '0')
const md5 = (path: string) => spawnSync('md5sum', ['--', path], {encoding: 'utf8'}).stdout.split(' ')[0]!

export type Role = 'borealis' | 'site-linux' | 'campus'

export interface WorldOptions {
  /** site-linux → campus bandwidth limit (slows the transfers down to kill something mid-run). */
  campusBandwidthKBps?: number
  /** Flags go to directories nobody watches: every file must arrive by the rescans alone. */
  loseFlags?: boolean
}

export interface World {
  hosts: Record<Role, HostRoot>
  configs: Record<Role, string>
  daemons: Record<Role, DaemonProcess | null>
  start(role: Role): DaemonProcess
  /** Drops the sample files; returns the time the first one was written. */
  dropFiles(): number
  /** Resolves when every file is where it belongs and the daemons have gone quiet. */
  waitForFlow(timeoutMs: number): Promise<void>
  stopAll(): Promise<void>
  verify(): Promise<void>
}

interface Block {
  time: Date
  /** `YYYYMMDD.HHMM.SS` */
  prefix: string
  /** `YYYY/MM` */
  month: string
}

/** The block starting `hoursAgo` clock hours before the current hour. */
function blockHoursAgo(hoursAgo: number): Block {
  const time = new Date((Math.floor(Date.now() / 3_600_000) - hoursAgo) * 3_600_000)
  const prefix = `${time.getUTCFullYear()}${pad(time.getUTCMonth() + 1)}${pad(time.getUTCDate())}.${pad(time.getUTCHours())}00.00`
  return {time, prefix, month: `${time.getUTCFullYear()}/${pad(time.getUTCMonth() + 1)}`}
}

/** The time in a Borealis name, for its mtime (check_timestamp). */
function nameTime(name: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})\.(\d{2})(\d{2})\.(\d{2})\./.exec(name)!
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!))
}

export function makeWorld(sandbox: Sandbox, sshd: SshdHandle, name: string, options: WorldOptions = {}): World {
  const hosts: Record<Role, HostRoot> = {
    borealis: sandbox.host(`${name}-borealis`),
    'site-linux': sandbox.host(`${name}-site`),
    campus: sandbox.host(`${name}-campus`),
  }
  const B = hosts.borealis
  const S = hosts['site-linux']
  const C = hosts.campus
  // The block that just ended (its antennas_iq file is plotted: the plot stage takes the last two
  // clock hours) and the next block, whose first file is the trigger. The 2023 files are a backlog
  // of earlier blocks.
  const aiq = blockHoursAgo(1)
  const next = blockHoursAgo(0)
  const paths = {
    borealis: {
      dataDirectory: B.at('data', 'borealis_data'),
      flagsDirectory: B.at('data_flow', '.inotify_flags'),
      quarantineDirectory: B.at('data', 'borealis_quarantine'),
      settleSeconds: 1,
      untriggeredSettleSeconds: 2,
    },
    site: {
      nasDataRoot: S.at('borealis_nfs', 'borealis_data'),
      camDirectory: S.at('borealis_nfs', 'cam'),
      plotDirectory: S.at('logs', 'daily_plots'),
      watchDirectory: S.at('data_flow', '.inotify_watchdir'),
      flagsDirectory: S.at('data_flow', '.inotify_flags'),
    },
    campus: {
      dataDirectory: C.at('sddata', '{radar}_data'),
      holdingDirectory: C.at('sddata', '{radar}_holding_dir'),
      conversionFailureDirectory: C.at('sddata', 'conversion_failure'),
      specialExperimentsDirectory: C.at('sddata', 'special_experiments'),
      archiveRoot: C.at('data', 'borealis_site_data'),
      plotsDirectory: C.at('sddata', 'antennas_iq_plots', '{radar}_iq_plots'),
      plotsArchiveDirectory: C.at('sddata', 'antennas_iq_plots', '{radar}_iq_plots', 'archive'),
      camRoot: C.at('cam'),
      staging: [
        {name: 'vt', path: C.at('outgoing', 'vt', '{radar}'), mode: '664'},
        {name: 'bas', path: C.at('outgoing', 'bas', '{radar}'), mode: '664'},
        {name: 'mirror', path: C.at('holding', 'globus'), mode: '664'},
      ],
      watchDirectory: C.at('data_flow', '.inotify_watchdir'),
    },
  }
  const common = {
    radar: RADAR,
    ...paths,
    retry: {attempts: 2, initialDelayMs: 100, maxDelayMs: 200},
    timeouts: {sshConnectSeconds: 5, ioSeconds: 30, commandSeconds: 120},
    daemon: {rescanIntervalMinutes: 0.05},
  }
  const configFor = (role: Role): Record<string, unknown> => {
    const host = hosts[role]
    const config: Record<string, unknown> = {...common, logging: {directory: host.at('logs')}, state: {directory: host.at('state')}}
    if (role === 'borealis') {
      config.hosts = {siteLinux: sshd.host}
      if (options.loseFlags) config.site = {...paths.site, watchDirectory: S.at('lost_flags')}
    }
    if (role === 'site-linux') {
      config.hosts = {campus: {...sshd.host, bandwidthLimitKBps: options.campusBandwidthKBps ?? 0}}
      if (options.loseFlags) config.campus = {...paths.campus, watchDirectory: C.at('lost_flags')}
    }
    return config
  }
  const configs = {} as Record<Role, string>
  for (const role of ['borealis', 'site-linux', 'campus'] as const) {
    configs[role] = hosts[role].at('config.yaml')
    writeFileSync(configs[role], YAML.stringify(configFor(role)))
  }
  // The directories the hosts' installers would have made.
  for (const dir of [paths.borealis.dataDirectory, paths.site.nasDataRoot, paths.site.watchDirectory, paths.campus.watchDirectory]) mkdirSync(dir, {recursive: true})

  const daemons: Record<Role, DaemonProcess | null> = {borealis: null, 'site-linux': null, campus: null}
  const sources = {
    borealis: [
      '20231004.1400.00.sas.0.rawacf.h5',
      '20231004.1400.00.pgr.1.rawacf.h5',
      // Converted on site already (DMAP): rsync-to-nas compresses it.
      '20231004.1400.51.rkn.d.rawacf',
    ],
    /** The next block's first file: the trigger (its own block is "still being written"). */
    trigger: `${next.prefix}.cly.0.rawacf.h5`,
    antennasIq: `${aiq.prefix}.sas.0.antennas_iq.h5`,
    oldPlot: '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg',
    photo: '20231004.1400.00.cam210.jpg',
  }

  const place = (dir: string, name: string, from: string, mtime: Date) => {
    mkdirSync(dir, {recursive: true})
    const path = join(dir, name)
    copyFileSync(join(BOREALIS, from), path)
    utimesSync(path, mtime, mtime)
  }

  const world: World = {
    hosts,
    configs,
    daemons,
    start(role) {
      const args = ['--role', role, '--config', configs[role], '--stop-grace', '30']
      const daemon = spawnDaemon(role, args)
      daemons[role] = daemon
      return daemon
    },
    dropFiles() {
      const started = Date.now()
      const data = paths.borealis.dataDirectory
      place(data, sources.antennasIq, '20231004.1400.00.sas.0.antennas_iq.h5', aiq.time)
      for (const file of sources.borealis) place(data, file, file, nameTime(file))
      // Being written as the block goes on: modified now (its name's hour is this hour).
      place(data, sources.trigger, '20231004.1600.00.cly.0.rawacf.h5', new Date())
      // An old plot waiting on site (archived on campus), and a camera photo.
      place(paths.site.plotDirectory, sources.oldPlot, sources.oldPlot, nameTime(sources.oldPlot))
      place(paths.site.camDirectory, sources.photo, '20231004.1400.00.rkn.0.antennas_iq.antenna_0_0_70.jpg', new Date())
      return started
    },
    async waitForFlow(timeoutMs) {
      await eventually(() => missing().length === 0, timeoutMs, () => `still missing on campus: ${missing().join(', ')}; left at the sources: ${leftovers().join(', ')}`)
      await eventually(() => leftovers().length === 0, 30_000, () => `sources not removed: ${leftovers().join(', ')}`)
      await quiet(Object.values(daemons).filter((d): d is DaemonProcess => d !== null), 4000, 60_000)
    },
    async stopAll() {
      for (const daemon of Object.values(daemons)) {
        if (!daemon) continue
        const exit = await daemon.stop(60_000)
        assert.deepEqual(exit, {code: 0, signal: null}, `${daemon.name} exit; output tail:\n${daemon.output().split('\n').slice(-20).join('\n')}`)
      }
    },
    async verify() {
      const campus = treeFiles(C.root).filter((f) => !/^(logs|state|data_flow|lost_flags)\//.test(f) && f !== 'config.yaml')
      const visible = campus.filter((f) => !f.split('/').at(-1)!.startsWith('.'))
      assert.deepEqual(visible, expectedCampus().sort(), 'campus holds exactly the expected files: none missing, none twice, nothing failed')
      const hidden = campus.filter((f) => f.split('/').at(-1)!.startsWith('.'))
      assert.ok(hidden.every((f) => /\.dataflow-tmp-|\/\.[^/]+\.[A-Za-z0-9]{6}$/.test(f)), `only interrupted-transfer temp files may be hidden: ${hidden.join(', ')}`)

      // HDF5 files: identical bytes.
      const archive = (...parts: string[]) => C.at('data', 'borealis_site_data', ...parts)
      const special = (...parts: string[]) => C.at('sddata', 'special_experiments', ...parts)
      assert.equal(md5(archive('sas_rawacf', '2023', '10', '20231004.1400.00.sas.0.rawacf.h5')), md5(join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')))
      assert.equal(md5(archive('sas_rawacf', '2023', '10', '20231004.1400.00.pgr.1.rawacf.h5')), md5(join(BOREALIS, '20231004.1400.00.pgr.1.rawacf.h5')))
      // A special experiment's HDF5 partner is archived with the others, where the original put it.
      assert.equal(md5(archive('sas_rawacf', ...next.month.split('/'), sources.trigger)), md5(join(BOREALIS, '20231004.1600.00.cly.0.rawacf.h5')))
      // Converted on campus: the reference conversion, record by record; combf names the holding path.
      const holding = C.at('sddata', 'sas_holding_dir')
      await sameDmap(archive('sas_rawacf_dmap', '2023', '10', '20231004.1400.00.sas.a.rawacf.bz2'), '20231004.1400.00.sas.a.rawacf', join(holding, '20231004.1400.00.sas.0.rawacf.h5'))
      await sameDmap(archive('sas_rawacf_dmap', '2023', '10', '20231004.1400.00.pgr.b.rawacf.bz2'), '20231004.1400.00.pgr.b.rawacf', join(holding, '20231004.1400.00.pgr.1.rawacf.h5'))
      await sameDmap(special(...next.month.split('/'), `${next.prefix}.cly.a.rawacf.bz2`), '20231004.1600.00.cly.a.rawacf', join(holding, sources.trigger))
      // Converted on site: compressed by rsync-to-nas, decompressed bytes identical.
      const rkn = spawnSync('bzip2', ['-dc', special('2023', '10', '20231004.1400.51.rkn.d.rawacf.bz2')], {maxBuffer: 1 << 28})
      assert.equal(rkn.status, 0, 'bzip2 -dc')
      assert.ok(rkn.stdout.equals(readFileSync(join(BOREALIS, '20231004.1400.51.rkn.d.rawacf'))), 'rkn DMAP bytes')
      // Staging copies equal the archived file.
      for (const dmap of ['20231004.1400.00.sas.a.rawacf.bz2', '20231004.1400.00.pgr.b.rawacf.bz2']) {
        const want = md5(archive('sas_rawacf_dmap', '2023', '10', dmap))
        for (const dir of ['outgoing/vt/sas', 'outgoing/bas/sas', 'holding/globus']) assert.equal(md5(C.at(...dir.split('/'), dmap)), want, `${dir}/${dmap}`)
      }
      // Plots: 20 JPEGs of the recent antennas_iq file, each as sent (hash of its verified transfer).
      const plots = C.at('sddata', 'antennas_iq_plots', 'sas_iq_plots')
      const siteEvents = logEvents(S.at('logs'))
      for (let antenna = 0; antenna < 20; antenna++) {
        const file = join(plots, `${aiq.prefix}.sas.0.antennas_iq.antenna_${antenna}_0_70.jpg`)
        const bytes = readFileSync(file)
        assert.ok(bytes.length > 10_000 && bytes[0] === 0xff && bytes[1] === 0xd8, `${file} is a JPEG`)
        assert.ok(siteEvents.some((e) => e.event === 'transfer.verified' && String(e.destination).endsWith(file) && e.hash === md5(file)), `${file}: verified transfer with its hash`)
      }
      assert.equal(md5(join(plots, 'archive', '2023', '10', sources.oldPlot)), md5(join(BOREALIS, sources.oldPlot)))
      assert.equal(md5(C.at('cam', 'sascam', 'sascam210', '2023', '10', sources.photo)), md5(join(BOREALIS, '20231004.1400.00.rkn.0.antennas_iq.antenna_0_0_70.jpg')))

      // Sources: gone from the radar computer, from the NAS's outgoing directories, from site-linux.
      assert.deepEqual(leftovers(), [])
      assert.deepEqual(treeFiles(paths.borealis.dataDirectory), [])
      assert.equal(existsSync(paths.borealis.quarantineDirectory), false, 'nothing quarantined')
      const nas = treeFiles(paths.site.nasDataRoot).filter((f) => !f.split('/').at(-1)!.startsWith('.'))
      assert.deepEqual(nas, [
        `antennas_iq_array/${sources.antennasIq}`,
        'backup/20231004.1400.00.pgr.1.rawacf.h5',
        'backup/20231004.1400.00.sas.0.rawacf.h5',
        'backup/20231004.1400.51.rkn.d.rawacf.bz2',
        `backup/${sources.trigger}`,
      ].sort())
      // … each removed only after a verified copy: the hash of that copy is the source's.
      const borealisEvents = logEvents(B.at('logs'))
      for (const file of [...sources.borealis.filter((f) => f.endsWith('.h5')), sources.trigger, sources.antennasIq]) {
        const fixture: Record<string, string> = {[sources.antennasIq]: '20231004.1400.00.sas.0.antennas_iq.h5', [sources.trigger]: '20231004.1600.00.cly.0.rawacf.h5'}
        const from = join(BOREALIS, fixture[file] ?? file)
        assert.ok(
          borealisEvents.some((e) => e.event === 'transfer.verified' && String(e.file).endsWith(`/${file}`) && e.hash === md5(from)),
          `rsync-to-nas verified ${file} before deleting it`,
        )
      }
      for (const file of ['20231004.1400.00.sas.0.rawacf.h5', '20231004.1400.00.pgr.1.rawacf.h5', sources.trigger, '20231004.1400.51.rkn.d.rawacf.bz2', sources.oldPlot]) {
        assert.ok(siteEvents.some((e) => e.event === 'transfer.verified' && String(e.file).endsWith(`/${file}`)), `rsync-to-campus verified ${file} before deleting it`)
      }
      const failures = [...borealisEvents, ...siteEvents, ...logEvents(C.at('logs'))].filter((e) => e.event === 'file.quarantined' || e.event === 'verify.failed')
      assert.deepEqual(failures, [], 'no copy ever failed verification')
    },
  }

  /** Campus paths (relative to its root) every file must reach. */
  function expectedCampus(): string[] {
    const dmaps = ['20231004.1400.00.sas.a.rawacf.bz2', '20231004.1400.00.pgr.b.rawacf.bz2']
    return [
      ...dmaps.map((f) => `data/borealis_site_data/sas_rawacf_dmap/2023/10/${f}`),
      ...['20231004.1400.00.sas.0.rawacf.h5', '20231004.1400.00.pgr.1.rawacf.h5'].map((f) => `data/borealis_site_data/sas_rawacf/2023/10/${f}`),
      ...dmaps.flatMap((f) => [`outgoing/vt/sas/${f}`, `outgoing/bas/sas/${f}`, `holding/globus/${f}`]),
      'sddata/special_experiments/2023/10/20231004.1400.51.rkn.d.rawacf.bz2',
      `sddata/special_experiments/${next.month}/${next.prefix}.cly.a.rawacf.bz2`,
      `data/borealis_site_data/sas_rawacf/${next.month}/${sources.trigger}`,
      ...Array.from({length: 20}, (_, a) => `sddata/antennas_iq_plots/sas_iq_plots/${aiq.prefix}.sas.0.antennas_iq.antenna_${a}_0_70.jpg`),
      `sddata/antennas_iq_plots/sas_iq_plots/archive/2023/10/${sources.oldPlot}`,
      `cam/sascam/sascam210/2023/10/${sources.photo}`,
    ]
  }

  function missing(): string[] {
    return expectedCampus().filter((f) => !existsSync(C.at(...f.split('/'))))
  }

  /** Source files still waiting anywhere along the way. */
  function leftovers(): string[] {
    const dirs = [
      paths.borealis.dataDirectory,
      join(paths.site.nasDataRoot, 'rawacf_dmap'),
      join(paths.site.nasDataRoot, 'rawacf_array'),
      paths.site.plotDirectory,
      paths.site.camDirectory,
      C.at('sddata', 'sas_holding_dir'),
      C.at('sddata', 'sas_data'),
    ]
    return dirs.flatMap((dir) => (existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isFile()).map((n) => join(dir, n)) : []))
  }

  return world
}

/** Every JSON event line in the logs below `dir`. */
export function logEvents(dir: string): DaemonEvent[] {
  const events: DaemonEvent[] = []
  for (const file of treeFiles(dir).filter((f) => f.endsWith('.log') && !f.includes('summary/'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue
      try {
        events.push(JSON.parse(line) as DaemonEvent)
      } catch {
        // A line cut by a killed process.
      }
    }
  }
  return events
}

/** Resolves once no daemon has run its chain for `quietMs` (and none is running). */
async function quiet(daemons: DaemonProcess[], quietMs: number, timeoutMs: number): Promise<void> {
  const busy = () =>
    daemons.some((d) => {
      const starts = d.events.filter((e) => e.event === 'chain.start')
      const done = d.events.filter((e) => e.event === 'chain.done')
      const last = [...starts, ...done].map((e) => Date.parse(String(e.time))).sort((a, b) => b - a)[0] ?? 0
      return starts.length > done.length || Date.now() - last < quietMs
    })
  await eventually(() => !busy(), timeoutMs, () => 'the daemons did not go quiet')
}

/** The converted file holds the reference conversion's records; only combf differs (it names the holding path). */
async function sameDmap(converted: string, reference: string, holdingPath: string): Promise<void> {
  const got = (await readDmap(converted)).entries
  const want = (await readDmap(join(BOREALIS, reference))).entries
  assert.equal(got.length, want.length, `${converted}: record count`)
  const plain = (value: unknown): unknown => (ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<unknown>) : value)
  got.forEach((entry, i) => {
    const {scalars, arrays} = entry.record
    const ref = want[i]!.record
    assert.deepEqual([...scalars.keys()], [...ref.scalars.keys()], `${converted} record ${i}: scalar names`)
    for (const [name, scalar] of scalars) {
      const expected = ref.scalars.get(name)!
      if (name === 'combf') {
        assert.equal(scalar.value, String(expected.value).replace(/^Converted from Borealis file: \S+/, `Converted from Borealis file: ${holdingPath}`), `${converted} record ${i}: combf`)
      } else {
        assert.deepEqual(scalar, expected, `${converted} record ${i}: ${name}`)
      }
    }
    assert.deepEqual([...arrays.keys()], [...ref.arrays.keys()], `${converted} record ${i}: array names`)
    for (const [name, array] of arrays) {
      const expected = ref.arrays.get(name)!
      assert.deepEqual({...array, data: plain(array.data)}, {...expected, data: plain(expected.data)}, `${converted} record ${i}: ${name}`)
    }
  })
}
