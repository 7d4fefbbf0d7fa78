// Benchmarks, as named cases: `npm run bench` runs all, `npm run bench -- startup` one or more.
// Results print as a table. Wall times use hyperfine (-N: no shell) when it is on PATH, else an
// in-process loop of spawnSync; the table says which.
//
//   startup  dist/dataflow --help/--version with a warm cache, the first run (which extracts the
//            payload into a fresh cache), and `node -e 0` as the floor.
//   build    one full `scripts/pkg-build.ts` build, per step.
//   convert  dist/dataflow convert of a synthetic 2-hour Borealis rawacf file (1 920 records, "latest"
//            HDF5 format) to .bz2, with peak RSS, next to `bzip2 -9` and `lbzip2` alone on the
//            same DMAP bytes; and a quarter-length file, to show that memory does not grow with length.
//   dmap     the DMAP codec on generated rawacf files (records of a Borealis fixture with random
//            data, so bzip2 compresses them no better than real data): write and read, plain and
//            .bz2 through lbzip2 and bzip2, MB/s of DMAP bytes; `dataflow dmap check` on a 50 MB and
//            a 200 MB file with peak RSS, to show that memory does not grow with the file.
//   plot     dist/dataflow plot-iq --antennas 0-19 of a synthetic 2-hour antennas_iq file: time per
//            antenna and peak RSS (also with --html, and a 30-minute file to show memory is flat).
//   transfer 1 GiB in 10 random files over loopback ssh (a throwaway sshd): dataflow's SshTransport +
//            moveVerified (one multiplexed connection, temp name, fsync, publish, remote re-hash,
//            delete source; one file at a time and 2 in flight) against plain `rsync` + `md5sum`
//            on both ends (one rsync for all files, and per file), same files, same run.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

import {$} from 'zx'

import {openBorealisFile} from '../src/lib/formats/hdf5/borealis.js'
import type {HdfValue} from '../src/lib/formats/hdf5/values.js'
import {type WriteRecord, writeBorealisFile} from '../src/lib/formats/hdf5/write.js'

import {BINARY, buildExecutable, buildIfStale, REPO} from './pkg-build.js'

// For the transfer case (namespaces, so that they never clash with the other cases' imports).
import {randomFillSync} from 'node:crypto'
import * as nodeFs from 'node:fs'
import * as nodePath from 'node:path'

import {run} from '../src/lib/exec.js'
import {hashFile, parseHashLine} from '../src/lib/hash.js'
import {remotePath, rsyncRemoteShell, sshCommand} from '../src/lib/transport/ssh-args.js'
import {SshTransport} from '../src/lib/transport/ssh.js'
import {compressFile, decompressFile} from '../src/lib/formats/bzip2.js'
import {type DmapRecord, readDmap, readDmapFile, writeDmapFile} from '../src/lib/formats/dmap/index.js'
import {moveVerified} from '../src/lib/transport/verified-move.js'
import {FIXTURES} from '../test/helpers/cli.js'
import {startSshd} from '../test/helpers/sshd.js'

interface Row {
  case: string
  what: string
  runs: number
  meanMs: number
  medianMs: number
  minMs: number
  maxMs: number
  method: string
}

type Case = () => Promise<Row[]>

function stats(what: string, caseName: string, timesMs: number[], method: string): Row {
  const sorted = [...timesMs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return {
    case: caseName,
    what,
    runs: sorted.length,
    meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    medianMs: median,
    minMs: sorted[0]!,
    maxMs: sorted.at(-1)!,
    method,
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name)
    try {
      if (statSync(candidate).isFile()) return candidate
    } catch {}
  }
  return undefined
}

/**
 * Wall time of one run, in ms; the command must exit 0. node's spawnSync, not zx: zx starts a
 * shell, whose few ms would be timed too (a tenth of `node -e 0`).
 */
function timeOnce(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const [command, ...args] = argv as [string, ...string[]]
  const started = process.hrtime.bigint()
  const result = spawnSync(command, args, {env, stdio: ['ignore', 'ignore', 'pipe']})
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`${argv.join(' ')}: exit ${result.status ?? result.signal}: ${result.stderr.toString()}`)
  return ms
}

/** Repeated runs with warm-up: hyperfine when available, else a loop. */
function measure(caseName: string, what: string, argv: readonly string[], env: NodeJS.ProcessEnv, runs = 20, warmup = 3): Row {
  const hyperfine = onPath('hyperfine')
  if (hyperfine && argv.every((a) => !/\s/.test(a))) {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-bench-'))
    try {
      const json = join(dir, 'result.json')
      const result = $.sync({env, stdio: ['ignore', 'ignore', 'pipe'], nothrow: true, quiet: true})`${hyperfine} -N --style none --warmup ${warmup} --runs ${runs} --export-json ${json} ${argv.join(' ')}`
      if (!result.ok) throw new Error(`hyperfine ${argv.join(' ')}: ${result.stderr}`)
      const times = (JSON.parse(readFileSync(json, 'utf8')) as {results: Array<{times: number[]}>}).results[0]!.times
      return stats(what, caseName, times.map((s) => s * 1000), 'hyperfine -N')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }
  for (let i = 0; i < warmup; i++) timeOnce(argv, env)
  return stats(what, caseName, Array.from({length: runs}, () => timeOnce(argv, env)), 'spawnSync loop')
}

/** A clean environment like a service's: no NODE_* variables, a private cache. */
function cleanEnv(cache: string): NodeJS.ProcessEnv {
  return {PATH: process.env.PATH, HOME: process.env.HOME, DATAFLOW_CACHE_DIR: cache}
}

/**
 * A synthetic Borealis rawacf file of `count` records in the "latest" HDF5 format: the metadata and
 * records of the sas fixture, cycled, with fresh times, beams 0–15 and the three correlation
 * arrays ([1, 75, 23] complex64) perturbed by ±10 % so the data compresses like real data.
 */
async function makeLongRawacf(path: string, count: number): Promise<void> {
  const fixture = await openBorealisFile(join(FIXTURES, 'borealis', '20231004.1400.00.sas.0.rawacf.h5'))
  const metadata = new Map(fixture.metadata.values)
  const templates: Array<Map<string, HdfValue>> = []
  for await (const record of fixture.records()) templates.push(new Map(record.fields.values))
  fixture.close()
  let seed = 0x2545f491
  const random = () => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 4294967296
  }
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  function* records(): Generator<WriteRecord> {
    const start = Date.UTC(2023, 9, 4, 14, 0, 0) / 1000 + 0.0318
    for (let i = 0; i < count; i++) {
      const fields = new Map(templates[i % templates.length])
      const t0 = start + i * 3.75
      const sequences = (fields.get('sqn_timestamps') as HdfValue & {kind: 'float'}).data.length
      fields.set('sqn_timestamps', {kind: 'float', shape: [sequences], data: Float64Array.from({length: sequences}, (_, k) => t0 + k * 0.1)})
      fields.set('beam_nums', {kind: 'int', shape: [1], data: Uint32Array.of(i % 16)})
      fields.set('scan_start_marker', {kind: 'bool', shape: [], data: Uint8Array.of(i % 16 === 0 ? 1 : 0)})
      for (const name of ['main_acfs', 'intf_acfs', 'xcfs']) {
        const value = fields.get(name) as HdfValue & {kind: 'complex'}
        fields.set(name, {kind: 'complex', shape: value.shape, data: Float32Array.from(value.data, (x) => x * (0.9 + 0.2 * random()))})
      }
      const d = new Date(Math.floor(t0) * 1000)
      const name = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}.${pad(Math.round((t0 % 1) * 1e6), 6)}`
      yield {name, fields}
    }
  }
  await writeBorealisFile(path, metadata, records(), {libver: 'latest'})
}

/** Wall time (ms) and peak RSS (MB, the largest process of the run) via GNU time; exit 0 required. */
function timeWithRss(argv: readonly string[], env: NodeJS.ProcessEnv, stdoutFile?: string): {ms: number; rssMb: number} {
  const gnuTime = ['/usr/bin/time', onPath('time')].find((p) => p && statSync(p, {throwIfNoEntry: false})?.isFile())
  if (!gnuTime) throw new Error('GNU time (/usr/bin/time, Debian package "time") is needed for peak RSS')
  const dir = mkdtempSync(join(tmpdir(), 'dataflow-bench-'))
  try {
    const report = join(dir, 'time')
    const time = $.sync({env, stdio: ['ignore', 'ignore', 'pipe'], nothrow: true, quiet: true})
    const started = process.hrtime.bigint()
    const result = stdoutFile ? time`${gnuTime} -o ${report} -f '%e %M' ${argv} > ${stdoutFile}` : time`${gnuTime} -o ${report} -f '%e %M' ${argv}`
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (!result.ok) throw new Error(`${argv.join(' ')}: exit ${result.exitCode ?? result.signal}: ${result.stderr}`)
    const [, rssKb] = readFileSync(report, 'utf8').trim().split('\n').at(-1)!.split(' ')
    return {ms, rssMb: Number(rssKb) / 1024}
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

const TRANSFER_FILES = 10
const TRANSFER_FILE_BYTES = 100 << 20
const TRANSFER_ROUNDS = 3

/** Writes `bytes` of random data (not zeros: nothing may compress or sparse it away). */
function writeRandomFile(file: string, bytes: number): void {
  const chunk = Buffer.alloc(4 << 20)
  const fd = nodeFs.openSync(file, 'wx')
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      randomFillSync(chunk)
      nodeFs.writeSync(fd, chunk, 0, Math.min(left, chunk.length))
    }
  } finally {
    nodeFs.closeSync(fd)
  }
}

async function timedMs(what: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint()
  await what()
  return Number(process.hrtime.bigint() - started) / 1e6
}

async function transferCase(): Promise<Row[]> {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- node:path's functions do not use `this`
  const {join, basename} = nodePath
  const scratch = nodeFs.mkdtempSync(join(tmpdir(), 'dataflow-bench-transfer-'))
  // The sessions get an empty HOME so that this machine's ~/.bashrc (pyenv init, ~0.1 s) is not run
  // for every remote command: it would charge dataflow's 3 remote commands per file and the
  // baseline's 2 per run, measuring the dotfiles rather than the transfer.
  const sessionHome = join(scratch, 'home')
  nodeFs.mkdirSync(sessionHome)
  const sshd = await startSshd(join(scratch, 'sshd'), {extraConfig: [`SetEnv HOME=${sessionHome}`]})
  try {
    const sources = join(scratch, 'src')
    nodeFs.mkdirSync(sources)
    const files: string[] = []
    for (let i = 0; i < TRANSFER_FILES; i++) {
      const file = join(sources, `20240301.${String(i).padStart(2, '0')}00.00.sas.0.rawacf.bz2`)
      writeRandomFile(file, TRANSFER_FILE_BYTES)
      files.push(file)
    }
    const total = TRANSFER_FILES * TRANSFER_FILE_BYTES
    process.stderr.write(`transfer: ${TRANSFER_FILES} files, ${(total / 2 ** 30).toFixed(2)} GiB over ssh to 127.0.0.1:${sshd.host.port}\n`)
    const connect = {connectTimeoutSeconds: 15}

    const md5Of = (out: string) => out.trim().split('\n').map((l) => parseHashLine(l)?.hash)

    // Baseline: one rsync of all files, then md5sum of the sources here and of the copies there
    // (both at once), then compare. No temp names, no fsync; a new connection per command.
    const baselineOne = async (dest: string) => {
      const shell = rsyncRemoteShell(sshd.host, connect)
      await run(['rsync', '--protect-args', '--times', '-e', shell, '--', ...files, remotePath(sshd.host, `${dest}/`)], {timeoutMs: 600_000})
      const [local, remote] = await Promise.all([
        run(['md5sum', '--', ...files], {timeoutMs: 600_000}),
        run(sshCommand(sshd.host, connect, ['md5sum', '--', ...files.map((f) => join(dest, basename(f)))]), {timeoutMs: 600_000}),
      ])
      if (md5Of(local.stdout).join() !== md5Of(remote.stdout).join()) throw new Error('baseline: hashes differ')
    }

    // The same per file, as the original stage scripts did: rsync one file, md5sum it on both ends.
    const baselinePerFile = async (dest: string) => {
      const shell = rsyncRemoteShell(sshd.host, connect)
      for (const f of files) {
        await run(['rsync', '--protect-args', '--times', '-e', shell, '--', f, remotePath(sshd.host, `${dest}/`)], {timeoutMs: 600_000})
        const [local, remote] = await Promise.all([
          run(['md5sum', '--', f], {timeoutMs: 600_000}),
          run(sshCommand(sshd.host, connect, ['md5sum', '--', join(dest, basename(f))]), {timeoutMs: 600_000}),
        ])
        if (md5Of(local.stdout)[0] !== md5Of(remote.stdout)[0]) throw new Error('baseline: hashes differ')
      }
    }

    // dataflow: one transport (one connection) per run, moveVerified per file, `inFlight` files at
    // a time. It deletes its sources, so it moves hard links of the source files (same inodes,
    // same page cache). The links are made before the clock starts.
    const dataflow = async (dest: string, inFlight: number) => {
      const links = join(scratch, 'links')
      nodeFs.mkdirSync(links)
      const queue = files.map((f) => {
        nodeFs.linkSync(f, join(links, basename(f)))
        return join(links, basename(f))
      })
      const transport = new SshTransport(sshd.host, {
        connectTimeoutSeconds: 15,
        ioTimeoutSeconds: 180,
        commandTimeoutSeconds: 3600,
        controlDir: join(scratch, 'ctl'),
      })
      const worker = async () => {
        for (let link = queue.shift(); link !== undefined; link = queue.shift()) {
          await moveVerified(transport, link, join(dest, basename(link)), {algorithm: 'md5', retry: {attempts: 1, initialDelayMs: 0, maxDelayMs: 0}})
        }
      }
      const took = await timedMs(async () => {
        try {
          await Promise.all(Array.from({length: inFlight}, worker))
        } finally {
          await transport.close()
        }
      })
      nodeFs.rmSync(links, {recursive: true, force: true})
      return took
    }

    const sides = {
      'plain rsync of all files + md5sum both ends (baseline)': baselineOne,
      'plain rsync + md5sum both ends, per file (baseline)': baselinePerFile,
      'SshTransport + moveVerified, one file at a time (dataflow)': (dest: string) => dataflow(dest, 1),
      'SshTransport + moveVerified, 2 files in flight (dataflow)': (dest: string) => dataflow(dest, 2),
    }
    const names = Object.keys(sides) as Array<keyof typeof sides>
    const times = new Map(names.map((name) => [name, [] as number[]]))
    const expected = new Map<string, string>()
    for (const f of files) expected.set(basename(f), await hashFile(f, 'md5'))
    for (let round = 0; round < TRANSFER_ROUNDS; round++) {
      // Rotate the order so that no side always runs on a warmer or dirtier page cache.
      for (const [i] of names.entries()) {
        const name = names[(i + round) % names.length]!
        const dest = join(scratch, `dest-${round}-${i}`)
        nodeFs.mkdirSync(dest)
        const started = process.hrtime.bigint()
        const reported = await sides[name](dest)
        const wall = Number(process.hrtime.bigint() - started) / 1e6
        times.get(name)!.push(typeof reported === 'number' ? reported : wall)
        // What arrived is checked outside the timing.
        for (const [file, hash] of expected) {
          if ((await hashFile(join(dest, file), 'md5')) !== hash) throw new Error(`${name}: ${file} differs`)
        }
        nodeFs.rmSync(dest, {recursive: true, force: true})
        // Write back what this run left dirty, so that it does not slow down the next one.
        void $.sync({nothrow: true})`sync`
      }
    }
    const rows = names.map((name) => stats(name, 'transfer', times.get(name)!, 'wall, in process'))
    const mibps = (row: Row) => (total / 2 ** 20 / (row.medianMs / 1000)).toFixed(0)
    for (const row of rows) process.stderr.write(`transfer: ${mibps(row)} MiB/s (median) ${row.what}\n`)
    const ratio = (ours: number, base: number) => (rows[ours]!.medianMs / rows[base]!.medianMs).toFixed(2)
    process.stderr.write(
      `transfer: ratio dataflow/baseline (medians, goal <= 1.10x): one at a time ${ratio(2, 0)}x vs one rsync, ${ratio(2, 1)}x vs per file; ` +
        `2 in flight ${ratio(3, 0)}x vs one rsync, ${ratio(3, 1)}x vs per file\n`,
    )
    return rows
  } finally {
    await sshd.stop()
    nodeFs.rmSync(scratch, {recursive: true, force: true})
  }
}

/** `count` valid rawacf records: a Borealis fixture record with fresh random pwr0/acfd/xcfd. */
function* randomRawacfRecords(template: DmapRecord, count: number): Generator<DmapRecord> {
  for (let i = 0; i < count; i++) {
    const arrays = new Map(template.arrays)
    for (const name of ['pwr0', 'acfd', 'xcfd']) {
      const array = template.arrays.get(name)!
      const data = new Float32Array(array.data.length)
      for (let k = 0; k < data.length; k++) data[k] = (Math.random() - 0.5) * 200
      arrays.set(name, {...array, data})
    }
    yield {scalars: template.scalars, arrays}
  }
}

async function dmapCase(): Promise<Row[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'dataflow-bench-'))
  try {
    const fixture = join(FIXTURES, 'borealis', '20231004.1400.00.sas.a.rawacf')
    const template = (await readDmap(fixture)).entries[0]!.record
    const rows: Row[] = []
    const notes: string[] = []
    const timed = async (what: string, bytes: number, work: () => Promise<unknown>) => {
      const started = process.hrtime.bigint()
      await work()
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      rows.push(stats(`${what}: ${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`, 'dmap', [ms], 'one run, in process'))
    }
    const drain = async (chunks: AsyncIterable<unknown>) => {
      for await (const _ of chunks);
    }
    const files: Record<string, {path: string; bytes: number}> = {}
    for (const [label, count] of [['50 MB', 1800], ['200 MB', 7200]] as const) {
      const path = join(scratch, `${label.replace(' ', '')}.rawacf`)
      let bytes = 0
      await timed(`writeDmapFile plain (${label})`, 50e6 * (count / 1800), async () => {
        bytes = (await writeDmapFile(path, randomRawacfRecords(template, count))).bytes
      })
      files[label] = {path, bytes}
      await timed(`readDmapFile plain (${label})`, bytes, () => drain(readDmapFile(path)))
    }
    const {path, bytes} = files['50 MB']!
    for (const tool of ['lbzip2', 'bzip2'] as const) {
      const bz = join(scratch, `${tool}.rawacf.bz2`)
      await timed(`writeDmapFile .bz2 via ${tool} (50 MB)`, bytes, () => writeDmapFile(bz, readRecords(path), {bzip2: {tool}}))
      await timed(`compressFile ${tool} (50 MB)`, bytes, () => compressFile(path, `${bz}.again`, {tool}))
      await timed(`decompressFile ${tool}, streamed (50 MB)`, bytes, () => drain(decompressFile(bz, {tool})))
      await timed(`readDmapFile .bz2 via ${tool} (50 MB)`, bytes, () => drain(readDmapFile(bz, {bzip2: {tool}})))
      notes.push(`${tool}: ${(statSync(bz).size / 1e6).toFixed(1)} MB compressed from ${(bytes / 1e6).toFixed(1)} MB`)
    }
    const env = {PATH: process.env.PATH, HOME: process.env.HOME}
    for (const [label, file] of Object.entries(files)) {
      const argv = [process.execPath, '--import', 'tsx', join(REPO, 'bin', 'dev.js'), 'dmap', 'check', file.path]
      const result = timeWithRss(argv, env)
      rows.push(stats(`dataflow dmap check (dev entry), ${label} [peak RSS ${result.rssMb.toFixed(0)} MB]`, 'dmap', [result.ms], '/usr/bin/time'))
    }
    for (const note of notes) process.stderr.write(`${note}\n`)
    return rows
  } finally {
    rmSync(scratch, {recursive: true, force: true})
  }

  async function* readRecords(file: string): AsyncGenerator<DmapRecord> {
    for await (const {record} of readDmapFile(file)) yield record
  }
}

/**
 * A synthetic 2-hour Borealis antennas_iq file: 1 920 records (3.75 s each) of 36–42 sequences ×
 * 20 antennas × 100 samples complex64, with the sas fixture's metadata (sample_time cut to 100
 * samples) and record fields. The samples are a noise floor (~35 dB) with range echoes whose
 * strength drifts over the two hours and a transmitter-leakage row at samples 0–1 (~80 dB), like
 * the reference file, so the data compresses and plots like real data.
 */
async function makeLongAntennasIq(path: string, count: number): Promise<void> {
  const fixture = await openBorealisFile(join(FIXTURES, 'borealis', '20231004.1400.00.sas.0.antennas_iq.h5'))
  const metadata = new Map(fixture.metadata.values)
  let template: Map<string, HdfValue> | undefined
  for await (const record of fixture.records()) template ??= new Map(record.fields.values)
  fixture.close()
  const samples = 100
  const antennas = 20
  const sampleTime = metadata.get('sample_time') as HdfValue & {kind: 'float'}
  metadata.set('sample_time', {kind: 'float', shape: [samples], data: sampleTime.data.slice(0, samples)})
  let seed = 0x9e3779b9
  const random = () => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 4294967296
  }
  const gaussian = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random())
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  function* records(): Generator<WriteRecord> {
    const start = Date.UTC(2023, 9, 4, 14, 0, 0) / 1000 + 0.0343
    for (let i = 0; i < count; i++) {
      const t0 = start + i * 3.75
      const sequences = 36 + (i % 7)
      const fields = new Map(template)
      fields.set('num_sequences', {kind: 'int', shape: [], data: BigInt64Array.of(BigInt(sequences))})
      fields.set('sqn_timestamps', {kind: 'float', shape: [sequences], data: Float64Array.from({length: sequences}, (_, k) => t0 + k * 0.1)})
      const data = new Float32Array(2 * antennas * sequences * samples)
      const drift = 0.5 + 0.5 * Math.sin((2 * Math.PI * i) / count)
      for (let a = 0; a < antennas; a++) {
        for (let s = 0; s < sequences; s++) {
          for (let k = 0; k < samples; k++) {
            const echo = k >= 10 && k < 40 ? 15 + 12 * drift * Math.exp(-((k - 25) ** 2) / 60) : 0
            const db = k < 2 ? 80 : 35 + echo
            const amplitude = 10 ** (db / 20) / Math.SQRT2
            const o = 2 * ((a * sequences + s) * samples + k)
            data[o] = amplitude * gaussian()
            data[o + 1] = amplitude * gaussian()
          }
        }
      }
      fields.set('antennas_iq_data', {kind: 'complex', shape: [antennas, sequences, samples], data})
      const d = new Date(Math.floor(t0) * 1000)
      const name = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}.${pad(Math.round((t0 % 1) * 1e6), 6)}`
      yield {name, fields}
    }
  }
  await writeBorealisFile(path, metadata, records(), {libver: 'latest'})
}

/**
 * `dataflow plot-iq --antennas 0-19` (the site job's settings) of a synthetic 2-hour antennas_iq
 * file with the built binary: wall time, time per antenna and peak RSS; the same with --html; and
 * a quarter-length file, to show that memory does not grow with the file's length.
 */
async function plotCase(): Promise<Row[]> {
  const built = await buildIfStale()
  if (built) process.stderr.write(`(re)built ${BINARY} first\n`)
  const scratch = mkdtempSync(join(tmpdir(), 'dataflow-bench-plot-'))
  try {
    const env = cleanEnv(join(scratch, 'cache'))
    timeOnce([BINARY, '--version'], env) // extract the payload once, outside the timings
    const rows: Row[] = []
    const notes: string[] = []
    for (const [records, label, runs] of [[1920, '2 h', 3], [480, '30 min', 1]] as const) {
      const dir = join(scratch, label.replace(' ', ''))
      const input = join(dir, '20231004.1400.00.sas.0.antennas_iq.h5')
      const out = join(dir, 'plots')
      mkdirSync(out, {recursive: true})
      process.stderr.write(`generating ${records}-record antennas_iq file…\n`)
      const generated = Date.now()
      await makeLongAntennasIq(input, records)
      process.stderr.write(`  ${(statSync(input).size / 1e6).toFixed(0)} MB in ${((Date.now() - generated) / 1000).toFixed(0)} s\n`)
      const argv = [BINARY, 'plot-iq', '--json', '--antennas', '0-19', '--min-power', '30', '--max-power', '80', '--plot-directory', out, input]
      const variants = records === 1920 ? ([['JPEG ×20', argv, runs], ['JPEG ×20 + --html', [...argv, '--html'], 1]] as const) : ([['JPEG ×20', argv, runs]] as const)
      for (const [what, command, n] of variants) {
        const json = join(dir, 'result.json')
        const results = Array.from({length: n}, () => timeWithRss(command, env, json))
        const rss = Math.max(...results.map((r) => r.rssMb))
        const row = stats(`plot-iq ${what} (${label}, ${records} records) [peak RSS ${rss.toFixed(0)} MB]`, 'plot', results.map((r) => r.ms), '/usr/bin/time')
        rows.push(row)
        const outcome = (JSON.parse(readFileSync(json, 'utf8')) as {files: Array<{ok: boolean; sequences: number; html: string | null; seconds: {read: number; render: number; write: number}}>}).files[0]!
        if (!outcome.ok) throw new Error(`plot-iq failed: ${JSON.stringify(outcome)}`)
        notes.push(
          `${label} ${what}: ${outcome.sequences} sequences; ${(row.medianMs / 20 / 1000).toFixed(2)} s per antenna (median wall / 20); ` +
            `last run: read ${outcome.seconds.read.toFixed(1)} s (2 passes), render ${outcome.seconds.render.toFixed(1)} s, write ${outcome.seconds.write.toFixed(2)} s; ` +
            `peak RSS ${rss.toFixed(0)} MB${outcome.html ? `; HTML ${(statSync(outcome.html).size / 1e6).toFixed(1)} MB` : ''}`,
        )
      }
    }
    for (const line of notes) process.stderr.write(`${line}\n`)
    return rows
  } finally {
    rmSync(scratch, {recursive: true, force: true})
  }
}

const CASES: Record<string, Case> = {
  plot: plotCase,
  async startup() {
    const built = await buildIfStale()
    if (built) process.stderr.write(`(re)built ${BINARY} first\n`)
    const scratch = mkdtempSync(join(tmpdir(), 'dataflow-bench-'))
    try {
      const warm = join(scratch, 'warm')
      const env = cleanEnv(warm)
      timeOnce([BINARY, '--version'], env) // extract once
      const rows = [
        measure('startup', 'node -e 0 (floor)', [process.execPath, '-e', '0'], env),
        measure('startup', 'dataflow --version (warm)', [BINARY, '--version'], env),
        measure('startup', 'dataflow --help (warm)', [BINARY, '--help'], env),
      ]
      // First runs: every run gets a fresh cache, so every run extracts the payload.
      const cold: number[] = []
      for (let i = 0; i < 8; i++) cold.push(timeOnce([BINARY, '--help'], cleanEnv(join(scratch, `cold-${i}`))))
      rows.push(stats('dataflow --help (first run, extracts)', 'startup', cold, 'spawnSync loop'))
      process.stderr.write(`binary: ${(statSync(BINARY).size / 1e6).toFixed(1)} MB (${statSync(BINARY).size} bytes)\n`)
      return rows
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  },

  async convert() {
    const built = await buildIfStale()
    if (built) process.stderr.write(`(re)built ${BINARY} first\n`)
    const scratch = mkdtempSync(join(tmpdir(), 'dataflow-bench-'))
    try {
      const env = cleanEnv(join(scratch, 'cache'))
      const runs = 3
      const rows: Row[] = []
      const measured = (what: string, argv: readonly string[], n: number, stdoutFile?: string) => {
        const results = Array.from({length: n}, () => timeWithRss(argv, env, stdoutFile))
        const rss = Math.max(...results.map((r) => r.rssMb))
        rows.push(stats(`${what} [peak RSS ${rss.toFixed(0)} MB]`, 'convert', results.map((r) => r.ms), '/usr/bin/time'))
        return {medianMs: rows.at(-1)!.medianMs, rss}
      }
      const sizes: string[] = []
      const cores = String(availableParallelism())
      for (const [records, label] of [[1920, '2 h'], [480, '30 min']] as const) {
        const dir = join(scratch, label.replace(' ', ''))
        const input = join(dir, '20231004.1400.00.sas.0.rawacf.h5')
        process.stderr.write(`generating ${records}-record rawacf file…\n`)
        mkdirSync(dir, {recursive: true})
        await makeLongRawacf(input, records)
        timeOnce([BINARY, '--version'], env) // extract the payload once, outside the timings
        const convert = measured(`dataflow convert → .bz2 (${label}, ${records} records)`, [BINARY, 'convert', '--force', input], records === 1920 ? runs : 1)
        if (records !== 1920) continue
        const dmap = join(dir, '20231004.1400.00.sas.a.rawacf')
        measured('dataflow convert --no-compress', [BINARY, 'convert', '--force', '--no-compress', input], 1)
        const lbzip2 = measured(`lbzip2 -9 -n ${cores} alone, same DMAP bytes`, ['lbzip2', '-9', '-n', cores, '-c', dmap], runs, join(dir, 'lbzip2.bz2'))
        measured('bzip2 -9 alone, same DMAP bytes', ['bzip2', '-9', '-c', dmap], 1, join(dir, 'bzip2.bz2'))
        sizes.push(
          `input ${(statSync(input).size / 1e6).toFixed(1)} MB HDF5, DMAP ${(statSync(dmap).size / 1e6).toFixed(1)} MB, ` +
            `.bz2 ${(statSync(`${dmap}.bz2`).size / 1e6).toFixed(1)} MB; convert/lbzip2 = ${(convert.medianMs / lbzip2.medianMs).toFixed(2)}× ` +
            `(goal ≤ 1.5×), peak RSS ${convert.rss.toFixed(0)} MB (goal < 300 MB)`,
        )
      }
      for (const line of sizes) process.stderr.write(`${line}\n`)
      return rows
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  },

  transfer: transferCase,

  dmap: dmapCase,

  async build() {
    const result = await buildExecutable(() => {})
    const rows: Row[] = Object.entries(result.seconds).map(([step, s]) => stats(`pkg-build: ${step}`, 'build', [s * 1000], 'one build'))
    process.stderr.write(
      `binary: ${(result.binaryBytes / 1e6).toFixed(1)} MB; bundle ${(result.bundleBytes / 1e6).toFixed(2)} MB; ` +
        `payload ${result.files} files, ${(result.rawBytes / 1e6).toFixed(1)} MB -> ${(result.payloadBytes / 1e6).toFixed(1)} MB\n`,
    )
    return rows
  },
}

function printTable(rows: readonly Row[]): void {
  const header = ['case', 'what', 'runs', 'mean ms', 'median ms', 'min ms', 'max ms', 'method']
  const body = rows.map((r) => [
    r.case,
    r.what,
    String(r.runs),
    r.meanMs.toFixed(0),
    r.medianMs.toFixed(0),
    r.minMs.toFixed(0),
    r.maxMs.toFixed(0),
    r.method,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const numeric = new Set([2, 3, 4, 5, 6])
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of body) console.log(line(row))
}

const selected = process.argv.slice(2)
const unknown = selected.filter((name) => !(name in CASES))
if (unknown.length > 0) {
  console.error(`unknown case(s): ${unknown.join(', ')}; cases: ${Object.keys(CASES).join(', ')}`)
  process.exit(2)
}
const rows: Row[] = []
for (const name of selected.length > 0 ? selected : Object.keys(CASES)) rows.push(...(await CASES[name]!()))
printTable(rows)
