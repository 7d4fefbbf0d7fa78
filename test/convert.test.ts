// Borealis rawacf → DMAP conversion (`dataflow convert`) against the reference outputs of
// pyDARNio (test/fixtures/README.md): bytes identical for every fixture, also from "latest"-format
// copies; .bz2 output that decompresses to the same bytes; a hand-worked
// example; the no-xcfs case; and every way a conversion must fail without leaving output behind.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {rawacfToDmap} from '../src/lib/formats/convert/rawacf.js'
import {cTime, roundHalfEven, utcFromTimestamp, wrap16} from '../src/lib/formats/convert/numeric.js'
import {recordJsonText} from '../src/lib/formats/dmap/dump.js'
import {readDmap} from '../src/lib/formats/dmap/index.js'
import type {DmapRecord} from '../src/lib/formats/dmap/types.js'
import {openBorealisFile} from '../src/lib/formats/hdf5/borealis.js'
import type {HdfValue} from '../src/lib/formats/hdf5/values.js'
import {copyBorealisFile, writeBorealisFile} from '../src/lib/formats/hdf5/write.js'
import {FIXTURES, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const BOREALIS = join(FIXTURES, 'borealis')
const sandbox = makeSandbox('dataflow-convert-')
after(() => sandbox.cleanup())
let dirs = 0
/** A fresh directory holding copies of the given fixture files. */
function workDir(...fixtures: string[]): string {
  const dir = join(sandbox.dir, `w${++dirs}`)
  mkdirSync(dir, {recursive: true})
  for (const name of fixtures) copyFileSync(join(BOREALIS, name), join(dir, name))
  return dir
}

/** Input → reference output (the test/fixtures/README.md table). */
const CASES = [
  ['20231004.1400.00.sas.0.rawacf.h5', '20231004.1400.00.sas.a.rawacf'],
  ['20231004.1400.00.pgr.1.rawacf.h5', '20231004.1400.00.pgr.b.rawacf'],
  ['20231004.1600.00.cly.0.rawacf.h5', '20231004.1600.00.cly.a.rawacf'],
  ['20231004.1400.51.rkn.3.rawacf.h5', '20231004.1400.51.rkn.d.rawacf'],
] as const

interface RefField {
  type: string
  value: unknown
  shape?: number[]
}
/** The reference conversion's records, decoded from pyDARNio's DMAP bytes in the same JSON form as its dumps. */
async function reference(name: string): Promise<Array<Record<string, RefField>>> {
  const {entries} = await readDmap(join(BOREALIS, name))
  return entries.map((e) => JSON.parse(recordJsonText(e.record)) as Record<string, RefField>)
}
/** pyDARNio's own dump of a reference (only the rkn one is in the repository: test/fixtures/README.md). */
const pydarnioDump = (name: string) => (JSON.parse(readFileSync(join(BOREALIS, `${name}.json`), 'utf8')) as {records: Array<Record<string, RefField>>}).records

/** Field-by-field comparison with a reference dump; floats compared as binary32, signed zeros included. */
// `absent`: reference fields the record must NOT have (the no-xcfs case drops xcfd; the caller asserts
// its absence separately). Every other field is compared.
function compareRecord(record: DmapRecord, ref: Record<string, RefField>, where: string, absent: ReadonlySet<string> = new Set()): void {
  const names = [...record.scalars.keys(), ...record.arrays.keys()]
  assert.deepEqual(names, Object.keys(ref).filter((n) => !absent.has(n)), `${where}: fields and their order`)
  const same = (a: unknown, b: unknown) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))
  for (const [name, scalar] of record.scalars) {
    const expected = ref[name]!
    assert.equal(scalar.type, expected.type, `${where} ${name}: type`)
    const value = scalar.type === 'float' ? Math.fround(expected.value as number) : expected.value
    assert.ok(same(scalar.value, value), `${where} ${name}: ${String(scalar.value)} ≠ ${String(value)}`)
  }
  for (const [name, array] of record.arrays) {
    const expected = ref[name]!
    assert.equal(array.type, expected.type, `${where} ${name}: type`)
    assert.deepEqual(array.shape, expected.shape, `${where} ${name}: shape`)
    const flat = (expected.value as unknown[]).flat(8) as number[]
    assert.equal(array.data.length, flat.length, `${where} ${name}: length`)
    for (let i = 0; i < flat.length; i++) {
      const value = array.type === 'float' ? Math.fround(flat[i]!) : flat[i]
      if (!same(array.data[i], value)) assert.fail(`${where} ${name}[${i}]: ${String(array.data[i])} ≠ ${String(value)}`)
    }
  }
}

async function convertInProcess(path: string, origin: string): Promise<DmapRecord[]> {
  const file = await openBorealisFile(path)
  try {
    const out: DmapRecord[] = []
    for await (const record of rawacfToDmap(file, origin)) out.push(record)
    return out
  } finally {
    file.close()
  }
}

const bunzip = (path: string) => spawnSync('bzip2', ['-dc', path], {maxBuffer: 1 << 28}).stdout
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('records equal the reference dumps field by field', () => {
  for (const [input, output] of CASES) {
    it(`${input}`, async () => {
      const ref = await reference(output)
      const records = await convertInProcess(join(BOREALIS, input), input)
      assert.equal(records.length, ref.length)
      records.forEach((record, i) => compareRecord(record, ref[i]!, `record ${i}`))
    })
  }
  it('20231004.1400.51.rkn.3.rawacf.h5 against the dump pyDARNio itself read back', async () => {
    const ref = pydarnioDump('20231004.1400.51.rkn.d.rawacf')
    const records = await convertInProcess(join(BOREALIS, '20231004.1400.51.rkn.3.rawacf.h5'), '20231004.1400.51.rkn.3.rawacf.h5')
    assert.equal(records.length, ref.length)
    records.forEach((record, i) => compareRecord(record, ref[i]!, `record ${i}`))
  })
})

describe('dataflow convert: bytes identical to the reference', () => {
  for (const [input, output] of CASES) {
    it(`${input} --no-compress → ${output}; default → .bz2 of the same bytes`, async () => {
      const dir = workDir(input)
      const plain = await runCli(['convert', input, '--no-compress'], {cwd: dir})
      assert.equal(plain.code, 0, plain.stderr)
      assert.match(plain.stdout, new RegExp(`^Wrote dmap to : ${output.replaceAll('.', '\\.')} \\(${(await reference(output)).length} records, \\d+\\.\\d\\d s\\)\n$`))
      const expected = readFileSync(join(BOREALIS, output))
      assert.ok(readFileSync(join(dir, output)).equals(expected), 'uncompressed output identical to the reference')

      const compressed = await runCli(['convert', input], {cwd: dir})
      assert.equal(compressed.code, 0, compressed.stderr)
      assert.ok(bunzip(join(dir, `${output}.bz2`)).equals(expected), '.bz2 decompresses to the reference bytes')
      assert.equal(spawnSync('bzip2', ['-t', join(dir, `${output}.bz2`)]).status, 0)
      assert.deepEqual(readdirSync(dir).sort(), [input, output, `${output}.bz2`].sort(), 'no temporary files left')
    })
  }

  it('"latest" HDF5 format copies convert to the same bytes', async () => {
    const dir = join(sandbox.dir, 'latest')
    mkdirSync(dir, {recursive: true})
    for (const [input] of CASES) await copyBorealisFile(join(BOREALIS, input), join(dir, input), {libver: 'latest'})
    const {code, stderr} = await runCli(['convert', '--no-compress', '--jobs', '2', ...CASES.map(([input]) => input)], {cwd: dir})
    assert.equal(code, 0, stderr)
    for (const [, output] of CASES) assert.ok(readFileSync(join(dir, output)).equals(readFileSync(join(BOREALIS, output))), output)
  })

  it('--output-dir, --json, and an absolute input path written into combf', async () => {
    const dir = workDir('20231004.1400.51.rkn.3.rawacf.h5')
    const out = join(sandbox.dir, 'out-dir')
    const input = join(dir, '20231004.1400.51.rkn.3.rawacf.h5')
    const {code, stdout, stderr} = await runCli(['convert', input, '--output-dir', out, '--json'])
    assert.equal(code, 0, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; failed: number; files: Array<{input: string; output: string; ok: boolean; records: number; dmapRecords: number}>}
    assert.deepEqual({succeeded: result.succeeded, failed: result.failed}, {succeeded: 1, failed: 0})
    assert.equal(result.files[0]!.output, join(out, '20231004.1400.51.rkn.d.rawacf.bz2'))
    assert.deepEqual([result.files[0]!.records, result.files[0]!.dmapRecords], [4, 4])
    const bytes = bunzip(result.files[0]!.output)
    assert.ok(bytes.includes(Buffer.from(`Converted from Borealis file: ${input} ; Number of beams in record: 1 ; `)))
    assert.deepEqual(readdirSync(dir), ['20231004.1400.51.rkn.3.rawacf.h5'], 'nothing written next to the input')
  })
})

describe('a hand-worked conversion example (no xcfs)', () => {
  it('gives the 877-byte record, SHA-256 cc09433b…', async () => {
    const dir = join(sandbox.dir, 'worked-example')
    mkdirSync(dir, {recursive: true})
    const str = (s: string): HdfValue => ({kind: 'string', shape: [], data: [s]})
    const u32 = (shape: number[], ...v: number[]): HdfValue => ({kind: 'int', shape, data: Uint32Array.from(v)})
    const f32 = (x: number): HdfValue => ({kind: 'float', shape: [], data: Float32Array.of(x)})
    const f64 = (x: number): HdfValue => ({kind: 'float', shape: [], data: Float64Array.of(x)})
    const metadata = new Map<string, HdfValue>([
      ['borealis_git_hash', str('v1.0-3-g1a2b3c4')],
      ['experiment_name', str('NormalScan')],
      ['experiment_comment', str('')],
      ['slice_comment', str('')],
      ['experiment_id', {kind: 'int', shape: [], data: Int16Array.of(151)}],
      ['station', str('sas')],
      ['slice_id', u32([], 0)],
      ['first_range', f32(180)],
      ['first_range_rtt', f32(1200.8307)],
      ['rx_sample_rate', f64(3333.3333333333335)],
      ['range_sep', f32(44.968868)],
      ['tx_pulse_len', u32([], 300)],
      ['tau_spacing', u32([], 2400)],
      ['pulses', u32([7], 0, 9, 12, 20, 22, 26, 27)],
      ['lag_pulses', u32([3, 2], 0, 0, 26, 27, 27, 27)],
      ['lag_numbers', u32([3], 0, 1, 0)],
      ['data_normalization_factor', f64(2)],
    ])
    const fields = new Map<string, HdfValue>([
      ['sqn_timestamps', {kind: 'float', shape: [1], data: Float64Array.of(1696428003.1234565)}],
      ['num_sequences', {kind: 'int', shape: [], data: BigInt64Array.of(30n)}],
      ['int_time', f32(3.7)],
      ['freq', u32([], 10500)],
      ['beam_nums', u32([1], 7)],
      ['beam_azms', {kind: 'float', shape: [1], data: Float64Array.of(-3.24)}],
      ['scan_start_marker', {kind: 'bool', shape: [], data: Uint8Array.of(1)}],
      ['agc_status_word', u32([], 0)],
      ['lp_status_word', u32([], 0)],
      ['tx_excitations', {kind: 'complex', shape: [16], data: Float32Array.from({length: 32}, (_, i) => (i % 2 === 0 ? 1 : 0))}],
      ['main_acfs', {kind: 'complex', shape: [1, 2, 3], data: Float32Array.of(1e-4, 0, 2e-5, -1e-5, 3e-6, 4e-6, -2e-4, 1e-4, 0, 0, 1e-5, 0)}],
    ])
    const name = '20231004.1400.00.sas.0.rawacf.h5'
    await writeBorealisFile(join(dir, name), metadata, [{name: '20231004-1400-03.123456', fields}])
    const {code, stderr} = await runCli(['convert', name, '--no-compress'], {cwd: dir})
    assert.equal(code, 0, stderr)
    const bytes = readFileSync(join(dir, '20231004.1400.00.sas.a.rawacf'))
    assert.equal(bytes.length, 877)
    assert.equal(sha256(bytes), 'cc09433b7c7ea2a13b454ab5fcf634f543fa7170cdb121dce9e6533bab899b1b')
  })
})

describe('a record without xcfs', () => {
  it('has xcf = 0 and no xcfd; every other field as the reference', async () => {
    const [input, output] = CASES[0]
    const path = join(sandbox.dir, 'no-xcfs', input)
    mkdirSync(join(path, '..'), {recursive: true})
    await copyBorealisFile(join(BOREALIS, input), path, {
      record: (r) => ({name: r.name, fields: new Map([...r.fields].filter(([n]) => n !== 'xcfs'))}),
    })
    const ref = await reference(output)
    const records = await convertInProcess(path, input)
    assert.equal(records.length, ref.length)
    records.forEach((record, i) => {
      assert.equal(record.scalars.get('xcf')?.value, 0)
      assert.equal(record.arrays.has('xcfd'), false)
      record.scalars.set('xcf', {type: 'short', value: 1})
      compareRecord(record, ref[i]!, `record ${i}`, new Set(['xcfd']))
    })
  })
})

describe('inputs that must fail: non-zero exit, one line naming the file, no output left', () => {
  const sas = join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')
  const cases: Array<{what: string; name: string; make: (path: string) => Promise<void> | void; reason: RegExp}> = [
    {what: 'truncated HDF5', name: '20231004.1400.00.sas.0.rawacf.h5', make: (p) => writeFileSync(p, readFileSync(sas).subarray(0, 1_000_000)), reason: /truncated file/},
    {what: 'bytes that are not HDF5', name: '20231004.1400.00.sas.0.rawacf.h5', make: (p) => writeFileSync(p, Buffer.alloc(4096, 7)), reason: /not an HDF5 file/},
    {what: 'an empty file', name: '20231004.1400.00.sas.0.rawacf.h5', make: (p) => writeFileSync(p, ''), reason: /not an HDF5 file/},
    {
      what: 'a record (the 6th) missing a required dataset',
      name: '20231004.1400.00.sas.0.rawacf.h5',
      make: (p) =>
        copyBorealisFile(sas, p, {record: (r, i) => (i === 5 ? {name: r.name, fields: new Map([...r.fields].filter(([n]) => n !== 'num_sequences'))} : r)}),
      reason: /\/20231004-1400-\d\d\.\d{6}: missing dataset "num_sequences"/,
    },
    {what: 'no records', name: '20231004.1400.00.sas.0.rawacf.h5', make: (p) => copyBorealisFile(sas, p, {record: () => null}), reason: /: no records$/},
    {what: 'slice 26 in the name', name: '20231004.1400.00.sas.26.rawacf.h5', make: (p) => copyFileSync(sas, p), reason: /Cannot convert slice ID 26 to channel identifier because it is outside range 0-25/},
    {
      what: 'an antennas_iq file',
      name: '20231004.1400.00.sas.0.antennas_iq.h5',
      make: (p) => copyFileSync(join(BOREALIS, '20231004.1400.00.sas.0.antennas_iq.h5'), p),
      reason: /Unable to generate DMAP file from type antennas_iq/,
    },
    {
      what: 'antennas_iq content under a rawacf name',
      name: '20231004.1400.00.sas.0.rawacf.h5',
      make: (p) => copyFileSync(join(BOREALIS, '20231004.1400.00.sas.0.antennas_iq.h5'), p),
      reason: /not a rawacf file \(antennas_iq\)/,
    },
    {
      what: 'an unknown station code',
      name: '20231004.1400.00.sas.0.rawacf.h5',
      make: (p) => copyBorealisFile(sas, p, {metadata: (m) => m.set('station', {kind: 'string', shape: [], data: ['xyz']})}),
      reason: /unknown station code "xyz"/,
    },
    {
      what: 'a pre-v1.0 version',
      name: '20231004.1400.00.sas.0.rawacf.h5',
      make: (p) => copyBorealisFile(sas, p, {metadata: (m) => m.set('borealis_git_hash', {kind: 'string', shape: [], data: ['v0.7-1-gabc']})}),
      reason: /pre-v1\.0 Borealis version v0\.7-1-gabc/,
    },
    {what: 'a missing file', name: '20231004.1400.00.sas.0.rawacf.h5', make: () => undefined, reason: /: no such file$/},
  ]
  for (const c of cases) {
    it(c.what, async () => {
      const dir = join(sandbox.dir, `bad${++dirs}`)
      mkdirSync(dir, {recursive: true})
      await c.make(join(dir, c.name))
      const before = readdirSync(dir).sort()
      const {code, stdout, stderr} = await runCli(['convert', c.name], {cwd: dir})
      assert.equal(code, 3, stdout + stderr)
      assert.equal(stdout, '')
      const lines = stderr.trim().split('\n')
      assert.equal(lines.length, 1, stderr)
      assert.ok(lines[0]!.startsWith(`dataflow: ${c.name}: `), stderr)
      assert.match(lines[0]!, c.reason)
      assert.deepEqual(readdirSync(dir).sort(), before, 'no output and no temporary file left')
    })
  }

  it('a batch with good and bad files converts the good ones and exits 3', async () => {
    const dir = workDir('20231004.1400.51.rkn.3.rawacf.h5', '20231004.1600.00.cly.0.rawacf.h5')
    writeFileSync(join(dir, '20231004.1400.00.sas.0.rawacf.h5'), 'not hdf5')
    const {code, stdout, stderr} = await runCli(
      ['convert', '--json', '--jobs', '2', '20231004.1400.51.rkn.3.rawacf.h5', '20231004.1400.00.sas.0.rawacf.h5', '20231004.1600.00.cly.0.rawacf.h5'],
      {cwd: dir},
    )
    assert.equal(code, 3, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; failed: number; files: Array<{input: string; ok: boolean; error?: string}>}
    assert.deepEqual([result.succeeded, result.failed], [2, 1])
    assert.deepEqual(result.files.map((f) => [f.input, f.ok]), [
      ['20231004.1400.51.rkn.3.rawacf.h5', true],
      ['20231004.1400.00.sas.0.rawacf.h5', false],
      ['20231004.1600.00.cly.0.rawacf.h5', true],
    ])
    assert.match(result.files[1]!.error!, /^20231004\.1400\.00\.sas\.0\.rawacf\.h5: not an HDF5 file/)
    assert.ok(bunzip(join(dir, '20231004.1600.00.cly.a.rawacf.bz2')).equals(readFileSync(join(BOREALIS, '20231004.1600.00.cly.a.rawacf'))))
    assert.equal(existsSync(join(dir, '20231004.1400.00.sas.a.rawacf.bz2')), false)
  })

  it('an existing output is left alone (exit 3) unless --force', async () => {
    const dir = workDir('20231004.1400.51.rkn.3.rawacf.h5')
    const output = join(dir, '20231004.1400.51.rkn.d.rawacf')
    writeFileSync(output, 'older file')
    const refused = await runCli(['convert', '--no-compress', '20231004.1400.51.rkn.3.rawacf.h5'], {cwd: dir})
    assert.equal(refused.code, 3)
    assert.match(refused.stderr, /20231004\.1400\.51\.rkn\.d\.rawacf: already exists/)
    assert.equal(readFileSync(output, 'utf8'), 'older file')
    const forced = await runCli(['convert', '--no-compress', '--force', '20231004.1400.51.rkn.3.rawacf.h5'], {cwd: dir})
    assert.equal(forced.code, 0, forced.stderr)
    assert.ok(readFileSync(output).equals(readFileSync(join(BOREALIS, '20231004.1400.51.rkn.d.rawacf'))))
  })

  it('--dry-run prints the plan and writes nothing', async () => {
    const dir = workDir('20231004.1400.00.pgr.1.rawacf.h5')
    const {code, stdout, stderr} = await runCli(['convert', '--dry-run', '20231004.1400.00.pgr.1.rawacf.h5', '20231004.1400.00.pgr.27.rawacf.h5'], {cwd: dir})
    assert.equal(code, 3)
    assert.equal(stdout, '20231004.1400.00.pgr.1.rawacf.h5 → 20231004.1400.00.pgr.b.rawacf.bz2\n')
    assert.match(stderr, /^dataflow: 20231004\.1400\.00\.pgr\.27\.rawacf\.h5: Cannot convert slice ID 27/)
    assert.deepEqual(readdirSync(dir), ['20231004.1400.00.pgr.1.rawacf.h5'])
  })
})

describe('numeric rules (NumPy 1.x casts and rounding)', () => {
  it('timestamps convert like datetime.utcfromtimestamp', () => {
    const at = (ts: number) => {
      const t = utcFromTimestamp(ts)
      return `${t.hour}:${t.minute}:${t.second}.${t.microsecond}`
    }
    assert.equal(at(1696428003.1234565), '14:0:3.123456')
    assert.equal(at(1696428003.9999995), '14:0:4.0')
    assert.equal(utcFromTimestamp(1.5e-6).microsecond, 2)
    assert.equal(utcFromTimestamp(2.5e-6).microsecond, 2)
    assert.equal(utcFromTimestamp(5e-7).microsecond, 0)
    assert.equal(cTime(utcFromTimestamp(1696428003.1234565)), 'Wed Oct  4 14:00:03 2023')
    assert.equal(cTime(utcFromTimestamp(1700000000)), 'Tue Nov 14 22:13:20 2023')
  })
  it('round half to even, int16 wrapping', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, 44.968868, 180].map(roundHalfEven), [0, 2, 2, 0, 45, 180])
    assert.deepEqual([65535, 32768, 0x18000, -1].map((n) => wrap16(n)), [-1, -32768, -32768, -1])
    assert.equal(wrap16(2n ** 40n + 5n), 5)
  })
})
