// The Borealis HDF5 reader on h5wasm (src/lib/formats/hdf5/) and `dataflow hdf5 check`, against
// the reference fixtures, "latest"-format copies of them made here, and damaged files.
import assert from 'node:assert/strict'
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {FormatError} from '../src/lib/errors.js'
import {antennasIqRecord, openBorealisFile, parseBorealisVersion} from '../src/lib/formats/hdf5/borealis.js'
import {checkHdf5File} from '../src/lib/formats/hdf5/check.js'
import {loadH5wasm} from '../src/lib/formats/hdf5/h5wasm.js'
import type {HdfValue} from '../src/lib/formats/hdf5/values.js'
import {copyBorealisFile, shiftRecordTime} from '../src/lib/formats/hdf5/write.js'
import {FIXTURES, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const BOREALIS = join(FIXTURES, 'borealis')
const sandbox = makeSandbox('dataflow-hdf5-')
after(() => sandbox.cleanup())
const scratch = (...parts: string[]) => {
  const path = join(sandbox.dir, ...parts)
  mkdirSync(join(path, '..'), {recursive: true})
  return path
}

interface Generated {
  file: string
  file_type: string
  radar: string
  slice_id: number
  experiment_name: string
  records: number
  first_record: string
}
const generated = readFileSync(join(BOREALIS, 'generator.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as Generated)

/** Rejects with a FormatError that names `file` and matches `reason`. */
async function rejectsFormat(promise: Promise<unknown>, file: string, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FormatError, `expected FormatError, got ${String(error)}`)
    assert.equal(error.file, file)
    assert.match(error.reason, reason)
    assert.doesNotMatch(error.message, /\n/, 'one line')
    return true
  })
}

function sameValue(a: HdfValue, b: HdfValue, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`)
  if (a.kind === 'other' || b.kind === 'other') return assert.equal(a.kind, b.kind, what)
  // Booleans are written back as int8 (h5wasm cannot write enums): compare values, not kinds.
  assert.deepEqual(Array.from(a.data as ArrayLike<unknown>, String), Array.from(b.data as ArrayLike<unknown>, String), `${what}: values`)
}

describe('openBorealisFile on the reference fixtures', () => {
  for (const g of generated) {
    it(`${g.file}: type, version, metadata, records in name order`, async () => {
      const file = await openBorealisFile(join(BOREALIS, g.file))
      try {
        assert.equal(file.type, g.file_type)
        assert.deepEqual(file.version, {gitHash: 'v1.0', major: 1, minor: 0})
        assert.equal(file.metadata.string('station'), g.radar)
        assert.equal(file.metadata.string('experiment_name'), g.experiment_name)
        assert.equal(Number(file.metadata.integer('slice_id')), g.slice_id)
        assert.deepEqual(file.metadata.strings('global_coord'), ['lat', 'lon', 'alt'])
        assert.deepEqual(file.metadata.strings('local_coord'), ['x', 'y', 'z'])
        // Fixed-length strings: NUL padding stripped (S12 'first pulse'), empty string stored as S1 b''.
        if (g.file_type === 'rawacf') assert.deepEqual(file.metadata.strings('lag_pulse_descriptors'), ['first pulse', 'second pulse'])
        if (g.radar === 'sas') assert.equal(file.metadata.string('slice_comment'), '')
        assert.equal(file.recordNames.length, g.records)
        assert.deepEqual([...file.recordNames], [...file.recordNames].sort())
        assert.ok(!file.recordNames.includes('metadata'))
        const names: string[] = []
        for await (const record of file.records()) {
          names.push(record.name)
          const f = record.fields
          // Hard links to /metadata are not record fields.
          assert.equal(f.has('station'), false)
          assert.equal(typeof f.boolean('scan_start_marker'), 'boolean')
          assert.equal(f.floats('sqn_timestamps').data.length, Number(f.integer('num_sequences')))
          const tx = f.complex('tx_excitations')
          assert.ok(tx.data instanceof Float32Array)
          assert.equal(tx.data.length, 2 * tx.shape[0]!)
        }
        assert.deepEqual(names, file.recordNames)
        // The first record's name is the time of its first sequence.
        const first = file.readRecord(file.recordNames[0]!)
        const t0 = first.fields.floats('sqn_timestamps').data[0]!
        assert.equal(new Date(Math.floor(t0 * 1000)).toISOString().slice(0, 19), g.first_record.slice(0, 19))
      } finally {
        file.close()
      }
    })
  }

  it('rawacf correlations are complex64 [beams, ranges, lags]; records({datasets}) reads only those', async () => {
    const file = await openBorealisFile(join(BOREALIS, '20231004.1600.00.cly.0.rawacf.h5'))
    try {
      const record = file.readRecord(file.recordNames[0]!, {datasets: ['main_acfs', 'no_such_dataset', 'station']})
      assert.deepEqual(record.fields.names(), ['main_acfs'])
      const acfs = record.fields.complex('main_acfs')
      assert.deepEqual(acfs.shape, [16, 75, 23])
      assert.ok(acfs.data instanceof Float32Array)
      assert.equal(acfs.data.length, 16 * 75 * 23 * 2)
      assert.throws(() => record.fields.get('xcfs'), /\/20231004-1600-00\.\d{6}: missing dataset "xcfs"/)
    } finally {
      file.close()
    }
  })

  it('antennas_iq: typed record view for plotting', async () => {
    const file = await openBorealisFile(join(BOREALIS, '20231004.1400.00.sas.0.antennas_iq.h5'))
    try {
      assert.equal(file.type, 'antennas_iq')
      assert.equal(file.metadata.ints('rx_antennas').data.length, 20)
      for await (const record of file.records()) {
        const iq = antennasIqRecord(record)
        assert.deepEqual(iq.shape, [20, 35, 297])
        assert.equal(iq.numSequences, 35)
        assert.equal(iq.sqnTimestamps.length, 35)
        assert.equal(iq.data.length, 20 * 35 * 297 * 2)
        assert.ok(iq.data.some((x) => x !== 0))
      }
    } finally {
      file.close()
    }
  })
})

describe('"latest" HDF5 object format', () => {
  for (const name of ['20231004.1400.00.pgr.1.rawacf.h5', '20231004.1400.00.rkn.0.antennas_iq.h5']) {
    it(`${name}: a latest-format copy reads back value for value`, async () => {
      const copy = scratch('latest', name)
      await copyBorealisFile(join(BOREALIS, name), copy, {libver: 'latest'})
      assert.equal(readFileSync(copy)[8], 3, 'superblock version 3 (libver latest)')
      const [a, b] = [await openBorealisFile(join(BOREALIS, name)), await openBorealisFile(copy)]
      try {
        assert.equal(b.type, a.type)
        assert.deepEqual(b.recordNames, a.recordNames)
        for (const key of a.metadata.names()) sameValue(a.metadata.get(key), b.metadata.get(key), `metadata/${key}`)
        for (const recordName of a.recordNames) {
          const [ra, rb] = [a.readRecord(recordName), b.readRecord(recordName)]
          assert.deepEqual(rb.fields.names(), ra.fields.names())
          for (const key of ra.fields.names()) sameValue(ra.fields.get(key), rb.fields.get(key), `${recordName}/${key}`)
        }
      } finally {
        a.close()
        b.close()
      }
    })
  }
})

describe('shiftRecordTime (re-timed copies of a fixture)', () => {
  it('moves every record name and sequence time by the same whole seconds, across a day and year boundary', async () => {
    const name = '20231004.1400.00.sas.0.antennas_iq.h5'
    const shift = Date.UTC(2026, 11, 31, 23, 0, 0) / 1000 - Date.UTC(2023, 9, 4, 14, 0, 0) / 1000 + 3600
    const copy = scratch('shifted', '20270101.0000.00.sas.0.antennas_iq.h5')
    await copyBorealisFile(join(BOREALIS, name), copy, {record: (r) => shiftRecordTime(r, shift)})
    const [a, b] = [await openBorealisFile(join(BOREALIS, name)), await openBorealisFile(copy)]
    try {
      assert.deepEqual(b.recordNames, ['20270101-0000-00.034327'])
      assert.deepEqual(a.recordNames, ['20231004-1400-00.034327'])
      const [ta, tb] = [a.readRecord(a.recordNames[0]!).fields.floats('sqn_timestamps').data, b.readRecord(b.recordNames[0]!).fields.floats('sqn_timestamps').data]
      assert.equal(tb.length, ta.length)
      ta.forEach((t, i) => assert.equal(tb[i], t + shift))
      sameValue(a.readRecord(a.recordNames[0]!).fields.get('antennas_iq_data'), b.readRecord(b.recordNames[0]!).fields.get('antennas_iq_data'), 'data unchanged')
    } finally {
      a.close()
      b.close()
    }
  })

  it('refuses fractions of a second and names that are not record names', () => {
    const record = {name: '20231004-1400-00.031800', fields: new Map<string, HdfValue>([['sqn_timestamps', {kind: 'float', shape: [1], data: Float64Array.of(1)}]])}
    assert.throws(() => shiftRecordTime(record, 0.5), /whole seconds/)
    assert.throws(() => shiftRecordTime({...record, name: 'metadata'}, 1), /not a record name/)
    assert.equal(shiftRecordTime(record, -60).name, '20231004-1359-00.031800')
  })
})

describe('files the reader rejects, with one line naming the file', () => {
  const sas = join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')

  it('not HDF5, empty, truncated, missing, a directory', async () => {
    const junk = scratch('bad', 'junk.rawacf.h5')
    writeFileSync(junk, 'this is not an HDF5 file\n'.repeat(40))
    await rejectsFormat(openBorealisFile(junk), junk, /not an HDF5 file/)
    const empty = scratch('bad', 'empty.rawacf.h5')
    writeFileSync(empty, '')
    await rejectsFormat(openBorealisFile(empty), empty, /not an HDF5 file/)
    const truncated = scratch('bad', 'truncated.rawacf.h5')
    writeFileSync(truncated, readFileSync(sas).subarray(0, 800_000))
    await rejectsFormat(openBorealisFile(truncated), truncated, /truncated file: eof = 800000/)
    const missing = scratch('bad', 'missing.rawacf.h5')
    await rejectsFormat(openBorealisFile(missing), missing, /^no such file$/)
    await rejectsFormat(openBorealisFile(sandbox.dir), sandbox.dir, /not a regular file/)
  })

  it('pre-v1.0 files: array-structured, site-structured, or a v0.x hash', async () => {
    const h5 = await loadH5wasm()
    const array = scratch('legacy', '20210607.1800.00.cly.0.rawacf.hdf5')
    const a = new h5.File(array, 'w')
    a.create_attribute('borealis_git_hash', 'v0.6.1-3-gabc')
    a.create_dataset({name: 'num_sequences', data: new Int32Array([30, 31])})
    a.close()
    await rejectsFormat(openBorealisFile(array), array, /pre-v1\.0 Borealis file \(array-structured, v0\.6\.1-3-gabc\)/)
    const site = scratch('legacy', '20210607.1800.00.cly.0.rawacf.hdf5.site')
    const s = new h5.File(site, 'w')
    s.create_group('1623088860108').create_attribute('borealis_git_hash', 'v0.5-208-gb83b5d6')
    s.close()
    await rejectsFormat(openBorealisFile(site), site, /pre-v1\.0 Borealis file \(site-structured, v0\.5-208-gb83b5d6\)/)
    const v07 = scratch('legacy', '20231004.1400.00.sas.0.rawacf.h5')
    const setHash = (hash: string) => (m: Map<string, HdfValue>) => m.set('borealis_git_hash', {kind: 'string', shape: [], data: [hash]})
    await copyBorealisFile(sas, v07, {metadata: setHash('v0.7'), record: (r, i) => (i < 1 ? r : null)})
    await rejectsFormat(openBorealisFile(v07), v07, /pre-v1\.0 Borealis version v0\.7/)
    const untagged = scratch('untagged', '20231004.1400.00.sas.0.rawacf.h5')
    await copyBorealisFile(sas, untagged, {metadata: setHash('1a2b3c4'), record: (r, i) => (i < 1 ? r : null)})
    await rejectsFormat(openBorealisFile(untagged), untagged, /borealis_git_hash "1a2b3c4" has no version number/)
  })

  it('an HDF5 file that is not Borealis', async () => {
    const h5 = await loadH5wasm()
    const other = scratch('other', 'plain.h5')
    const f = new h5.File(other, 'w')
    f.create_dataset({name: 'x', data: new Float64Array([1, 2, 3])})
    f.close()
    await rejectsFormat(openBorealisFile(other), other, /not a Borealis v1\.0 file: no \/metadata\/borealis_git_hash/)
  })

  it('version parsing follows pyDARNio', () => {
    assert.deepEqual(parseBorealisVersion('v1.0-12-gabc'), {major: 1, minor: 0})
    assert.deepEqual(parseBorealisVersion('vv2.13'), {major: 2, minor: 13})
    assert.equal(parseBorealisVersion('deadbee'), null)
    assert.equal(parseBorealisVersion('v1'), null)
  })
})

describe('dataflow hdf5 check (replaces h5stat)', () => {
  it('passes every fixture and says what it holds', async () => {
    for (const g of generated) {
      const {code, stdout, stderr} = await runCli(['hdf5', 'check', join(BOREALIS, g.file)])
      assert.equal(code, 0, stderr)
      assert.match(stdout, new RegExp(`^ok .*${g.file.replaceAll('.', '\\.')}: Borealis v1\\.0 ${g.file_type}, ${g.records} records, `))
    }
  })

  it('--json', async () => {
    const {code, stdout} = await runCli(['hdf5', 'check', '--json', join(BOREALIS, '20231004.1400.51.rkn.3.rawacf.h5')])
    assert.equal(code, 0)
    const result = JSON.parse(stdout) as {ok: boolean; groups: number; datasets: number; borealis: {records: number}}
    assert.equal(result.ok, true)
    assert.equal(result.borealis.records, 4)
    assert.equal(result.groups, 6, 'root, metadata and 4 records')
  })

  it('fails truncated, non-HDF5 and damaged files: exit 3, one line naming the file', async () => {
    const sas = join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')
    const bytes = readFileSync(sas)
    const truncated = scratch('check', 'truncated.h5')
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 1000))
    const junk = scratch('check', 'junk.h5')
    writeFileSync(junk, 'x'.repeat(5000))
    // Damage inside the compressed data: the file opens, but a chunk no longer inflates.
    const damaged = scratch('check', 'damaged.h5')
    const copy = Buffer.from(bytes)
    copy.fill(0x55, 1_200_000, 1_200_512)
    writeFileSync(damaged, copy)
    for (const [file, reason] of [
      [truncated, /truncated file/],
      [junk, /not an HDF5 file/],
      [damaged, /\/20231004-1400-\d\d\.\d{6}\/\w+: HDF5: /],
    ] as const) {
      const {code, stdout, stderr} = await runCli(['hdf5', 'check', file])
      assert.equal(code, 3, `${file}: ${stdout}${stderr}`)
      assert.equal(stdout, '')
      const lines = stderr.trim().split('\n')
      assert.equal(lines.length, 1, stderr)
      assert.ok(lines[0]!.startsWith(`dataflow: ${file}: `), stderr)
      assert.match(lines[0]!, reason)
    }
    // The damaged file still opens as Borealis: only reading every dataset finds the damage.
    const opened = await openBorealisFile(damaged)
    opened.close()
    assert.equal((await checkHdf5File(damaged)).ok, false)
  })

  it('a valid HDF5 file that is not Borealis passes, like h5stat', async () => {
    const plain = scratch('check', 'plain.h5')
    copyFileSync(join(BOREALIS, '20231004.1400.00.sas.0.antennas_iq.h5'), plain)
    const h5 = await loadH5wasm()
    const f = new h5.File(scratch('check', 'other.h5'), 'w')
    f.create_group('g').create_dataset({name: 'd', data: new Float32Array([1, 2])})
    f.close()
    const result = await checkHdf5File(scratch('check', 'other.h5'))
    assert.equal(result.ok, true, result.reason)
    assert.equal(result.borealis, undefined)
    assert.equal(result.datasets, 1)
  })
})
