// The DMAP codec against the reference fixtures (test/fixtures/dmap, test/fixtures/borealis):
// field-by-field equality with the pyDARNio dumps, byte-identical read → write round trips, and
// every damaged variant in both reading modes (test/fixtures/README.md, dmap/corrupt/variants.json).
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {after, describe, it} from 'node:test'

import {FormatError} from '../src/lib/errors.js'
import {run} from '../src/lib/exec.js'
import {
  checkDmapIntegrity,
  type DmapRecord,
  DmapRecordError,
  encodeRecord,
  float32Text,
  float64Text,
  inRawacfOrder,
  parseRecord,
  parseRecordRange,
  readDmap,
  readDmapFile,
  readDmapStream,
  recordJsonText,
  validateRawacf,
  writeDmapFile,
} from '../src/lib/formats/dmap/index.js'
import {FIXTURES} from './helpers/cli.js'

const DMAP = join(FIXTURES, 'dmap')
const CORRUPT = join(DMAP, 'corrupt')
const BOREALIS = join(FIXTURES, 'borealis')
const scratch = mkdtempSync(join(tmpdir(), 'dataflow-dmap-test-'))
after(() => rmSync(scratch, {recursive: true, force: true}))

// ---------------------------------------------------------------------------------------------
// Comparing with the reference dumps

interface FixtureField {
  type: string
  value: unknown
  shape?: number[]
}
interface FixtureDump {
  num_records: number
  records: Array<Record<string, FixtureField>>
}

/** First difference between two values of a field, or undefined; floats compare as binary32. */
function differ(type: string, actual: unknown, expected: unknown, path: string): string | undefined {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `${path}: length ${(actual as unknown[])?.length} ≠ ${expected.length}`
    for (let i = 0; i < expected.length; i++) {
      const d = differ(type, actual[i], expected[i], `${path}[${i}]`)
      if (d) return d
    }
    return undefined
  }
  const same =
    type === 'float' && typeof expected === 'number' && typeof actual === 'number'
      ? Math.fround(actual) === Math.fround(expected)
      : Object.is(actual, expected)
  return same ? undefined : `${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`
}

function assertRecordsMatch(actual: Array<Record<string, FixtureField>>, expected: Array<Record<string, FixtureField>>, file: string): void {
  assert.equal(actual.length, expected.length, `${file}: number of records`)
  expected.forEach((want, i) => {
    const got = actual[i]!
    assert.deepEqual(Object.keys(got), Object.keys(want), `${file} record ${i}: field names and order`)
    for (const [name, field] of Object.entries(want)) {
      const mine = got[name]!
      const where = `${file} record ${i} '${name}'`
      assert.equal(mine.type, field.type, `${where}: type`)
      assert.deepEqual(mine.shape, field.shape, `${where}: shape`)
      const d = differ(field.type, mine.value, field.value, where)
      assert.equal(d, undefined, d)
    }
  })
}

const asDump = (records: DmapRecord[]) => records.map((r) => JSON.parse(recordJsonText(r)) as Record<string, FixtureField>)

/** Every real DMAP file, plain and .bz2 (6 DMAP kinds and the 4 Borealis conversions). */
const REAL: string[] = [
  ...readdirSync(DMAP).filter((f) => /^test\.[a-z]+(\.bz2)?$/.test(f)).map((f) => join(DMAP, f)),
  ...readdirSync(BOREALIS).filter((f) => /\.rawacf(\.bz2)?$/.test(f)).map((f) => join(BOREALIS, f)),
]
/** pyDARNio's dump of each file, where the repository holds one (test/fixtures/README.md: the large
 *  Borealis dumps are not copied; those conversions are compared byte for byte instead). */
const DUMPED = new Set(['test.rawacf', 'test.fitacf', 'test.iqdat', 'test.grid', 'test.map', 'test.snd', '20231004.1400.51.rkn.d.rawacf'])
const dumpOf = (file: string) => join(dirname(file), `${basename(file).replace(/\.bz2$/, '')}.json`)

describe('reading the real fixture files', () => {
  it('finds the fixture files (6 DMAP kinds and 4 Borealis conversions, plain and .bz2), and the dumps', () => {
    assert.equal(REAL.length, 20)
    for (const name of DUMPED) assert.ok(existsSync(join(name.startsWith('test.') ? DMAP : BOREALIS, `${name}.json`)), name)
  })
  for (const file of REAL.filter((f) => DUMPED.has(basename(f).replace(/\.bz2$/, '')))) {
    it(`${basename(file)}: every field of every record equals the reference dump`, async () => {
      const expected = JSON.parse(readFileSync(dumpOf(file), 'utf8')) as FixtureDump
      const {entries, damage, compressed} = await readDmap(file)
      assert.equal(damage, undefined)
      assert.equal(compressed, file.endsWith('.bz2'))
      assert.equal(entries.length, expected.num_records)
      assertRecordsMatch(asDump(entries.map((e) => e.record)), expected.records, basename(file))
      // Offsets: records are back to back from byte 0.
      let offset = 0
      for (const e of entries) {
        assert.equal(e.offset, offset)
        offset += e.size
      }
    })
  }
  for (const file of REAL.filter((f) => f.endsWith('.bz2'))) {
    it(`${basename(file)}: the same records as the uncompressed file, back to back`, async () => {
      const plain = await readDmap(file.replace(/\.bz2$/, ''))
      const {entries, damage, compressed} = await readDmap(file)
      assert.equal(damage, undefined)
      assert.equal(compressed, true)
      assert.ok(entries.length > 0)
      assert.deepEqual(asDump(entries.map((e) => e.record)), asDump(plain.entries.map((e) => e.record)))
      assert.deepEqual(entries.map((e) => [e.offset, e.size]), plain.entries.map((e) => [e.offset, e.size]))
    })
  }
})

describe('read → write round trips', () => {
  for (const file of REAL.filter((f) => !f.endsWith('.bz2'))) {
    it(`${basename(file)}: re-encoding gives identical bytes, and writeDmapFile writes them`, async () => {
      const original = readFileSync(file)
      const {entries} = await readDmap(file)
      assert.ok(Buffer.concat(entries.map((e) => encodeRecord(e.record))).equals(original))
      const target = join(scratch, basename(file))
      const result = await writeDmapFile(target, readRecords(file), {compress: false})
      assert.deepEqual(result, {path: target, records: entries.length, bytes: original.length, compressed: false})
      assert.ok(readFileSync(target).equals(original))
    })
  }
  for (const file of REAL.filter((f) => f.endsWith('.bz2'))) {
    it(`${basename(file)}: written with bzip2 -9 it is byte-identical; with lbzip2 valid and equal after decompression`, async () => {
      const viaBzip2 = join(scratch, `bzip2-${basename(file)}`)
      await writeDmapFile(viaBzip2, readRecords(file), {compress: true, bzip2: {tool: 'bzip2'}})
      assert.ok(readFileSync(viaBzip2).equals(readFileSync(file)), 'libbzip2 level 9 is deterministic')
      const viaLbzip2 = join(scratch, `lbzip2-${basename(file)}`)
      await writeDmapFile(viaLbzip2, readRecords(file), {bzip2: {tool: 'lbzip2'}}) // .bz2 name → compressed
      await run(['bzip2', '-t', viaLbzip2])
      const {stdout} = await run(['sh', '-c', 'bzip2 -dc "$1" | sha256sum', 'sh', viaLbzip2])
      assert.equal(stdout.split(' ')[0], createHash('sha256').update(readFileSync(file.replace(/\.bz2$/, ''))).digest('hex'))
    })
  }
})

async function* readRecords(file: string): AsyncGenerator<DmapRecord> {
  for await (const {record} of readDmapFile(file)) yield record
}

// ---------------------------------------------------------------------------------------------
// A hand-worked example: a one-record file, byte by byte

const WORKED_HEX = [
  '01 00 01 00 49 00 00 00 02 00 00 00 01 00 00 00',
  '63 70 00 03 97 00 00 00 73 74 72 00 09 68 69 00',
  '61 72 72 00 04 02 00 00 00 03 00 00 00 02 00 00',
  '00 00 00 00 3f 00 00 c0 3f 00 00 20 40 00 00 80',
  'bf 00 00 00 00 00 00 c8 42',
]
  .join(' ')
  .replaceAll(' ', '')

function workedRecord(): DmapRecord {
  return {
    scalars: new Map([
      ['cp', {type: 'int', value: 151}],
      ['str', {type: 'string', value: 'hi'}],
    ]),
    arrays: new Map([['arr', {type: 'float', shape: [2, 3], data: Float32Array.of(0.5, 1.5, 2.5, -1, 0, 100)}]]),
  }
}

describe('the hand-worked one-record example', () => {
  it('encodes to the 73 documented bytes (SHA-256 861334aa…) and parses back', () => {
    const bytes = encodeRecord(workedRecord())
    assert.equal(bytes.length, 73)
    assert.equal(bytes.toString('hex'), WORKED_HEX)
    assert.equal(createHash('sha256').update(bytes).digest('hex'), '861334aa0c3cb39deb3ed761b4d038d9ee968fc8e4d2a4cc65e080b050487217')
    const back = parseRecord(bytes)
    assert.deepEqual(back, workedRecord())
  })
})

// ---------------------------------------------------------------------------------------------
// Damaged files: every entry of test/fixtures/dmap/corrupt/variants.json, in both modes

interface Variant {
  file: string
  bytes: number
  intact_leading_records: number
  expected: string
}
const VARIANTS = JSON.parse(readFileSync(join(CORRUPT, 'variants.json'), 'utf8')) as Variant[]

/**
 * What each variant must do. strict: 'error' or a number of records; lax: records + bad offset
 * (undefined = intact), or 'error' for damage in the bzip2 layer (no record of it counts as good).
 */
const REQUIRED: Record<string, {strict: 'error' | number; lax: {records: number; badOffset?: number} | 'error'; error?: RegExp}> = {
  'test.rawacf.truncated': {strict: 'error', lax: {records: 1, badOffset: 36764}, error: /record 1: record size 36764 exceeds the 18382 bytes left/},
  'test.rawacf.truncated-header': {strict: 'error', lax: {records: 1, badOffset: 36764}, error: /record 1: incomplete record: 6 bytes left/},
  'test.rawacf.size-byteswapped': {strict: 'error', lax: {records: 1, badOffset: 36764}, error: /record 1: invalid record size -1668349952/},
  'test.rawacf.size-too-small': {strict: 'error', lax: {records: 0, badOffset: 0}, error: /record 0 \(from byte 0\): data of array 'xcfd': needs 17600 bytes but only 17500 remain/},
  'test.rawacf.size-zero': {strict: 'error', lax: {records: 1, badOffset: 36764}, error: /record 1: record size is 0/},
  'test.rawacf.huge-array-dim': {strict: 'error', lax: {records: 0, badOffset: 0}, error: /record 0 \(from byte 0\): array 'acfd': dimension 1073741824 exceeds the record size/},
  'test.rawacf.bad-type-code': {strict: 'error', lax: {records: 0, badOffset: 0}, error: /record 0 \(from byte 0\): type of scalar 'cp': invalid DMAP type code 77/},
  'test.rawacf.unterminated-string': {strict: 'error', lax: {records: 1, badOffset: 36764}, error: /record 1 \(from byte 36764\): value of string 'combf': no NUL terminator/},
  'test.rawacf.trailing-garbage': {strict: 'error', lax: {records: 2, badOffset: 73528}, error: /record 2: incomplete record: 5 bytes left/},
  'garbage.rawacf': {strict: 'error', lax: {records: 0, badOffset: 0}, error: /record 0: invalid record size/},
  'empty.rawacf': {strict: 'error', lax: {records: 0}, error: /empty file/},
  'empty.rawacf.bz2': {strict: 0, lax: {records: 0}},
  'test.rawacf.bz2.corrupt': {strict: 'error', lax: 'error', error: /bzip2 data error/},
  'test.rawacf.bz2.truncated': {strict: 'error', lax: 'error', error: /bzip2 data error/},
  'magic-only.rawacf.bz2': {strict: 'error', lax: 'error', error: /bzip2 data error/},
  'test.rawacf.multistream.bz2': {strict: 4, lax: {records: 4}},
}

describe('damaged files (dmap/corrupt/variants.json)', () => {
  it('the table here covers exactly the variants of variants.json', () => {
    assert.deepEqual(Object.keys(REQUIRED).sort(), VARIANTS.map((v) => v.file).sort())
  })
  for (const variant of VARIANTS) {
    const required = REQUIRED[variant.file]!
    const file = join(CORRUPT, variant.file)
    it(`${variant.file}: strict → ${required.strict === 'error' ? 'FormatError' : `${required.strict} records`}`, async () => {
      if (required.strict === 'error') {
        const error = await readDmap(file, {mode: 'strict'}).then(
          () => assert.fail('strict reading accepted a damaged file'),
          (e: unknown) => e,
        )
        assert.ok(error instanceof FormatError, `a FormatError, not ${String(error)}`)
        assert.equal(error.file, file)
        assert.match(error.reason, required.error!)
        assert.equal(error.exitCode, 3)
      } else {
        const {entries} = await readDmap(file, {mode: 'strict'})
        assert.equal(entries.length, required.strict)
      }
    })
    it(`${variant.file}: lax → ${required.lax === 'error' ? 'FormatError' : `${required.lax.records} records, bad offset ${required.lax.badOffset ?? 'none'}`}`, async () => {
      if (required.lax === 'error') {
        await assert.rejects(readDmap(file, {mode: 'lax'}), (e: unknown) => e instanceof FormatError && required.error!.test(e.reason))
        return
      }
      const {entries, damage} = await readDmap(file, {mode: 'lax'})
      assert.equal(entries.length, required.lax.records)
      assert.equal(entries.length, Math.min(variant.intact_leading_records, required.lax.records))
      assert.equal(damage?.offset, required.lax.badOffset)
      if (damage) {
        assert.equal(damage.index, required.lax.records)
        assert.match(damage.error.reason, required.error!)
      }
      // The intact records are the real ones, not garbage.
      const reference = JSON.parse(readFileSync(join(DMAP, 'test.rawacf.json'), 'utf8')) as FixtureDump
      const expected = [...reference.records, ...reference.records].slice(0, entries.length)
      assertRecordsMatch(asDump(entries.map((e) => e.record)), expected, variant.file)
    })
  }

  it('with the bzip2 fallback (which writes damaged blocks out before failing) a damaged .bz2 is still a bzip2 error', async () => {
    for (const name of ['test.rawacf.bz2.corrupt', 'test.rawacf.bz2.truncated', 'magic-only.rawacf.bz2']) {
      for (const mode of ['strict', 'lax'] as const) {
        await assert.rejects(readDmap(join(CORRUPT, name), {mode, bzip2: {tool: 'bzip2'}}), (e: unknown) => e instanceof FormatError && /^bzip2 data error/.test(e.reason))
      }
    }
    const {entries} = await readDmap(join(CORRUPT, 'test.rawacf.multistream.bz2'), {bzip2: {tool: 'bzip2'}})
    assert.equal(entries.length, 4)
  })

  it('a bogus size in a compressed stream is not trusted either (size-byteswapped, bzip2-compressed)', async () => {
    const bz = join(scratch, 'byteswapped.rawacf.bz2')
    const {stdout} = await run(['sh', '-c', 'bzip2 -9 -c "$1" > "$2"', 'sh', join(CORRUPT, 'test.rawacf.size-byteswapped'), bz])
    assert.equal(stdout, '')
    const {entries, damage} = await readDmap(bz, {mode: 'lax'})
    assert.equal(entries.length, 1)
    assert.equal(damage?.offset, 36764)
  })

  it('strict reading of a .bz2 whose payload is damaged DMAP reports the DMAP damage', async () => {
    const bz = join(scratch, 'truncated.rawacf.bz2')
    await run(['sh', '-c', 'bzip2 -9 -c "$1" > "$2"', 'sh', join(CORRUPT, 'test.rawacf.truncated'), bz])
    await assert.rejects(readDmap(bz), (e: unknown) => e instanceof FormatError && e.offset === 36764 && /record 1: record size 36764 exceeds/.test(e.reason))
  })

  it('a stream of tiny chunks gives the same records and damage as the file', async () => {
    for (const name of ['test.rawacf.trailing-garbage', 'test.rawacf.unterminated-string']) {
      const bytes = readFileSync(join(CORRUPT, name))
      async function* tiny(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < bytes.length; i += 4093) yield bytes.subarray(i, i + 4093)
      }
      const reader = readDmapStream(tiny(), name, {mode: 'lax'})
      const offsets: number[] = []
      for await (const e of reader) offsets.push(e.offset)
      const fromFile = await readDmap(join(CORRUPT, name), {mode: 'lax'})
      assert.deepEqual(offsets, fromFile.entries.map((e) => e.offset))
      assert.equal(reader.damage?.offset, fromFile.damage?.offset)
    }
  })

  it('a bzip2 byte stream is detected by its magic and decompressed', async () => {
    const bytes = readFileSync(join(CORRUPT, 'test.rawacf.multistream.bz2'))
    const reader = readDmapStream([bytes.subarray(0, 2), bytes.subarray(2)], 'multi', {})
    let n = 0
    for await (const _ of reader) n++
    assert.equal(n, 4)
    assert.equal(reader.compressed, true)
  })

  it('stopping early ends the decompressor (no hang, no leak)', async () => {
    const started = Date.now()
    for await (const {index} of readDmapFile(join(BOREALIS, '20231004.1600.00.cly.a.rawacf.bz2'))) if (index === 1) break
    assert.ok(Date.now() - started < 5000)
  })
})

// ---------------------------------------------------------------------------------------------
// Record rules, one at a time (named as in src/lib/formats/dmap/parse.ts), on records built
// around the worked example

function withBytes(edit: (b: Buffer) => Buffer | void): Buffer {
  const b = encodeRecord(workedRecord())
  return edit(b) ?? b
}

function assertRecordError(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => parseRecord(bytes), (e: unknown) => e instanceof DmapRecordError && pattern.test(e.reason))
}

describe('record rules (darn-dmap 0.8.2)', () => {
  it('H1: fewer than 16 bytes', () => assertRecordError(withBytes((b) => b.subarray(0, 12)), /header needs 16 bytes/))
  it('H3/H4: a record needs a scalar and an array', () => {
    assertRecordError(withBytes((b) => void b.writeInt32LE(0, 8)), /number of scalars 0/)
    assertRecordError(withBytes((b) => void b.writeInt32LE(0, 12)), /number of arrays 0/)
  })
  it('H5: more fields than bytes', () => assertRecordError(withBytes((b) => void b.writeInt32LE(100, 8)), /more than the record size/))
  it('S2: unknown type code (255, DATAMAP, is rejected too)', () => assertRecordError(withBytes((b) => void (b[0x13] = 255)), /invalid DMAP type code -1/))
  it('S1: names must be valid UTF-8', () => assertRecordError(withBytes((b) => void (b[0x10] = 0xff)), /not valid UTF-8/))
  it('A1: string arrays are rejected', () => assertRecordError(withBytes((b) => void (b[0x24] = 9)), /type string is not allowed/))
  it('A2: ndims ≤ 0', () => assertRecordError(withBytes((b) => void b.writeInt32LE(0, 0x25)), /number of dimensions 0/))
  it('A3: zero extent, except for slist', () => {
    assertRecordError(withBytes((b) => void b.writeInt32LE(0, 0x29)), /dimension 0 is zero or negative/)
    const empty: DmapRecord = {scalars: new Map([['cp', {type: 'short', value: 1}]]), arrays: new Map([['slist', {type: 'short', shape: [0], data: new Int16Array(0)}]])}
    assert.deepEqual(parseRecord(encodeRecord(empty)), empty)
    const negative = encodeRecord(empty)
    negative.writeInt32LE(-1, negative.length - 4)
    assertRecordError(negative, /dimension -1/)
  })
  it('A4/A5: array data larger than the record or than what is left', () => {
    assertRecordError(withBytes((b) => void b.writeInt32LE(30, 0x29)), /data bytes exceed the record size|needs 120 bytes/)
    assertRecordError(withBytes((b) => void b.writeInt32LE(4, 0x29)), /needs 32 bytes but only 24 remain/)
  })
  it('R1: bytes left over after the last field', () => {
    const b = Buffer.concat([encodeRecord(workedRecord()), Buffer.alloc(3)])
    b.writeInt32LE(76, 4)
    assertRecordError(b, /fields end at byte 73 but the record size is 76/)
  })
  it('a later field of the same name replaces the earlier one', () => {
    const r = workedRecord()
    r.scalars = new Map([
      ['cp', {type: 'int', value: 1}],
      ['cq', {type: 'int', value: 2}],
    ])
    const b = encodeRecord(r)
    b[0x19] = 'p'.charCodeAt(0) // second name "cq" → "cp"
    const parsed = parseRecord(b)
    assert.deepEqual([...parsed.scalars], [['cp', {type: 'int', value: 2}]])
  })
})

// ---------------------------------------------------------------------------------------------
// Writer contract

describe('writeDmapFile', () => {
  const records = (n: number): DmapRecord[] => Array.from({length: n}, () => workedRecord())

  it('replaces an existing file instead of appending (no multi-stream .bz2)', async () => {
    const target = join(scratch, 'twice.rawacf.bz2')
    await writeDmapFile(target, records(2))
    await writeDmapFile(target, records(3))
    const {entries} = await readDmap(target)
    assert.equal(entries.length, 3)
    const once = join(scratch, 'once.rawacf.bz2')
    await writeDmapFile(once, records(3))
    assert.ok(readFileSync(once).length === readFileSync(target).length)
  })

  for (const compress of [false, true]) {
    it(`leaves nothing behind when the records fail midway (compress: ${compress})`, async () => {
      const dir = mkdtempSync(join(scratch, 'fail-'))
      const target = join(dir, 'out.rawacf')
      writeFileSync(target, 'old content')
      async function* failing(): AsyncGenerator<DmapRecord> {
        yield workedRecord()
        throw new Error('conversion failed')
      }
      await assert.rejects(writeDmapFile(target, failing(), {compress}), /conversion failed/)
      assert.deepEqual(readdirSync(dir), ['out.rawacf'])
      assert.equal(readFileSync(target, 'utf8'), 'old content')
    })
  }

  it('refuses records that strict reading would reject, naming the record', async () => {
    const target = join(scratch, 'invalid.rawacf')
    const bad = workedRecord()
    bad.scalars.set('str', {type: 'string', value: 'a\0b'})
    await assert.rejects(writeDmapFile(target, [workedRecord(), bad]), (e: unknown) => e instanceof FormatError && /record 1: string 'str' contains a NUL/.test(e.reason))
    assert.equal(existsSync(target), false)
    const cases: Array<[(r: DmapRecord) => void, RegExp]> = [
      [(r) => r.scalars.set('cp', {type: 'short', value: 40000}), /does not fit/],
      [(r) => r.scalars.set('cp', {type: 'long', value: 1}), /is not a long/],
      [(r) => r.arrays.set('arr', {type: 'float', shape: [2, 2], data: new Float32Array(6)}), /holds 4 elements but data has 6/],
      [(r) => r.arrays.set('arr', {type: 'short', shape: [6], data: new Float32Array(6)}), /not a Int16Array/],
      [(r) => r.arrays.set('arr', {type: 'float', shape: [0], data: new Float32Array(0)}), /invalid dimension 0/],
      [(r) => r.arrays.clear(), /at least one array/],
    ]
    for (const [edit, pattern] of cases) {
      const r = workedRecord()
      edit(r)
      assert.throws(() => encodeRecord(r), (e: unknown) => e instanceof FormatError && pattern.test(e.reason))
    }
  })

  it('64-bit integers round-trip exactly', () => {
    const r: DmapRecord = {
      scalars: new Map([
        ['l', {type: 'long', value: -(2n ** 63n)}],
        ['u', {type: 'ulong', value: 2n ** 64n - 1n}],
      ]),
      arrays: new Map([['a', {type: 'ulong', shape: [2], data: BigUint64Array.of(1n, 2n ** 64n - 2n)}]]),
    }
    assert.deepEqual(parseRecord(encodeRecord(r)), r)
    assert.match(recordJsonText(r), /"value":18446744073709551615\}/)
  })
})

// ---------------------------------------------------------------------------------------------
// rawacf validation and the integrity check

describe('strict rawacf validation and the integrity check', () => {
  const firstRecord = async (file: string) => (await readDmap(file)).entries[0]!.record

  it('accepts the real rawacf files and rejects other kinds', async () => {
    assert.equal(validateRawacf(await firstRecord(join(DMAP, 'test.rawacf'))), undefined)
    assert.equal(validateRawacf(await firstRecord(join(BOREALIS, '20231004.1400.00.sas.a.rawacf'))), undefined)
    assert.match(validateRawacf(await firstRecord(join(DMAP, 'test.fitacf')))!, /unsupported rawacf field\(s\) 'fitacf.revision.major'/)
  })

  it('checks exact types, presence, and the optional fields', async () => {
    const base = await firstRecord(join(DMAP, 'test.rawacf'))
    const edited = (edit: (r: DmapRecord) => void) => {
      const r: DmapRecord = {scalars: new Map(base.scalars), arrays: new Map(base.arrays)}
      edit(r)
      return validateRawacf(r)
    }
    assert.match(edited((r) => r.scalars.set('cp', {type: 'int', value: 151})) ?? '', /'cp' has type int, expected short/)
    assert.match(edited((r) => r.scalars.delete('thr')) ?? '', /required scalar 'thr' is missing/)
    assert.match(edited((r) => r.arrays.delete('slist')) ?? '', /required array 'slist' is missing/)
    assert.match(edited((r) => r.scalars.set('mplgexs', {type: 'int', value: 0})) ?? '', /'mplgexs' has type int, expected short/)
    assert.match(edited((r) => r.scalars.set('extra', {type: 'int', value: 0})) ?? '', /unsupported rawacf field\(s\) 'extra'/)
    assert.equal(edited((r) => r.arrays.delete('xcfd')), undefined)
    assert.equal(edited((r) => r.scalars.set('widetx', {type: 'short', value: 0})), undefined)
  })

  it('inRawacfOrder puts the fields in darn-dmap order', async () => {
    const base = await firstRecord(join(DMAP, 'test.rawacf'))
    const shuffled: DmapRecord = {scalars: new Map([...base.scalars].reverse()), arrays: new Map([...base.arrays].reverse())}
    assert.ok(encodeRecord(inRawacfOrder(shuffled)).equals(encodeRecord(base)))
  })

  it('checkDmapIntegrity gives the cp of the first record, or a FormatError naming the file', async () => {
    assert.deepEqual(await checkDmapIntegrity(join(DMAP, 'test.rawacf.bz2')), {file: join(DMAP, 'test.rawacf.bz2'), cp: -3530, records: 2, compressed: true})
    assert.equal((await checkDmapIntegrity(join(BOREALIS, '20231004.1400.00.pgr.b.rawacf.bz2'))).cp, 3503)
    for (const bad of [join(CORRUPT, 'empty.rawacf.bz2'), join(CORRUPT, 'test.rawacf.trailing-garbage'), join(DMAP, 'test.fitacf'), join(scratch, 'missing.rawacf')]) {
      await assert.rejects(checkDmapIntegrity(bad), (e: unknown) => e instanceof FormatError && e.file === bad)
    }
  })
})

describe('dump helpers', () => {
  it('prints binary32 values as the shortest decimal that reads back as the same binary32', () => {
    const cases: Array<[number, string]> = [
      [0.1, '0.1'],
      [7.7549667, '7.7549667'],
      [-8.75, '-8.75'],
      [100, '100.0'],
      [0, '0.0'],
      [1e-5, '0.00001'],
      [3.4028234663852886e38, '3.4028235e+38'],
      [NaN, '"NaN"'],
      [-Infinity, '"-Infinity"'],
    ]
    for (const [x, text] of cases) assert.equal(float32Text(Math.fround(x)), text, String(x))
    assert.equal(float64Text(0.1), '0.1')
    assert.equal(float64Text(9999), '9999.0')
  })

  it('parses record ranges', () => {
    assert.deepEqual(parseRecordRange('2..5'), {from: 2, to: 5})
    assert.deepEqual(parseRecordRange('3'), {from: 3, to: 3})
    assert.deepEqual(parseRecordRange('3..'), {from: 3, to: undefined})
    assert.deepEqual(parseRecordRange('..4'), {from: 0, to: 4})
    for (const bad of ['', '..', '5..2', 'a..b', '1-2']) assert.throws(() => parseRecordRange(bad), RangeError)
  })
})
