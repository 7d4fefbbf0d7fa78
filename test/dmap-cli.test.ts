// `dataflow dmap check` and `dataflow dmap dump`, run as child processes the way the campus
// scripts and an operator run them.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {FIXTURES, runCli} from './helpers/cli.js'

const DMAP = join(FIXTURES, 'dmap')
const CORRUPT = join(DMAP, 'corrupt')
const BOREALIS = join(FIXTURES, 'borealis')

interface Field {
  type: string
  value: unknown
  shape?: number[]
}
interface Dump {
  source: string
  format: string
  bzip2_compressed_input: boolean
  num_records: number
  records: Array<Record<string, Field>>
}

/** Field-by-field equality, binary32 values compared as binary32. */
function assertSameRecords(actual: Dump['records'], expected: Dump['records']): void {
  assert.equal(actual.length, expected.length)
  const same = (type: string, a: unknown, e: unknown): boolean =>
    Array.isArray(e)
      ? Array.isArray(a) && a.length === e.length && e.every((x, i) => same(type, a[i], x))
      : type === 'float' && typeof a === 'number' && typeof e === 'number'
        ? Math.fround(a) === Math.fround(e)
        : Object.is(a, e)
  expected.forEach((record, i) => {
    assert.deepEqual(Object.keys(actual[i]!), Object.keys(record), `record ${i}: fields`)
    for (const [name, field] of Object.entries(record)) {
      const mine = actual[i]![name]!
      assert.equal(mine.type, field.type, `record ${i} ${name}`)
      assert.deepEqual(mine.shape, field.shape, `record ${i} ${name}`)
      assert.ok(same(field.type, mine.value, field.value), `record ${i} ${name}: values differ`)
    }
  })
}

describe('dataflow dmap check (test_dmap_integrity.py)', () => {
  it('prints the cp of the first record of a good file, plain or bzip2 (negative CPIDs too)', async () => {
    for (const [file, cp] of [
      [join(DMAP, 'test.rawacf'), '-3530'],
      [join(BOREALIS, '20231004.1400.00.sas.a.rawacf.bz2'), '151'],
    ] as const) {
      const {code, stdout, stderr} = await runCli(['dmap', 'check', file])
      assert.equal(stderr, '')
      assert.equal(code, 0)
      assert.equal(stdout, `${cp}\n`)
    }
  })

  it('a damaged, empty or non-rawacf file: exit 3, nothing on stdout, one line naming the file', async () => {
    for (const file of [join(CORRUPT, 'test.rawacf.truncated'), join(CORRUPT, 'empty.rawacf.bz2'), join(CORRUPT, 'test.rawacf.bz2.corrupt'), join(DMAP, 'test.fitacf')]) {
      const {code, stdout, stderr} = await runCli(['dmap', 'check', file])
      assert.equal(code, 3, file)
      assert.equal(stdout, '')
      assert.equal(stderr.trimEnd().split('\n').length, 1, stderr)
      assert.ok(stderr.startsWith(`dataflow: ${file}: `), stderr)
    }
  })

  it('--json gives the result object; a missing argument is a usage error (exit 2)', async () => {
    const ok = await runCli(['dmap', 'check', join(DMAP, 'test.rawacf.bz2'), '--json'])
    assert.equal(ok.code, 0)
    assert.deepEqual(JSON.parse(ok.stdout), {file: join(DMAP, 'test.rawacf.bz2'), cp: -3530, records: 2, compressed: true})
    assert.equal((await runCli(['dmap', 'check'])).code, 2)
  })
})

describe('dataflow dmap dump', () => {
  it('--json equals the reference dump field by field (Borealis conversion, bzip2)', async () => {
    const file = join(BOREALIS, '20231004.1400.51.rkn.d.rawacf.bz2')
    const {code, stdout, stderr} = await runCli(['dmap', 'dump', file, '--json'])
    assert.equal(stderr, '')
    assert.equal(code, 0)
    const mine = JSON.parse(stdout) as Dump
    const reference = JSON.parse(readFileSync(join(BOREALIS, '20231004.1400.51.rkn.d.rawacf.json'), 'utf8')) as Dump
    assert.deepEqual(
      Object.keys(mine).filter((k) => k in reference),
      Object.keys(reference),
    )
    assert.equal(mine.source, '20231004.1400.51.rkn.d.rawacf.bz2')
    assert.equal(mine.format, 'rawacf')
    assert.equal(mine.bzip2_compressed_input, true)
    assert.equal(mine.num_records, reference.num_records)
    assertSameRecords(mine.records, reference.records)
  })

  it('--json --records selects records; a generic DMAP kind (map) dumps too', async () => {
    const {code, stdout} = await runCli(['dmap', 'dump', join(DMAP, 'test.map'), '--json', '--records', '1..1'])
    assert.equal(code, 0)
    const mine = JSON.parse(stdout) as Dump & {first_record: number}
    const reference = JSON.parse(readFileSync(join(DMAP, 'test.map.json'), 'utf8')) as Dump
    assert.equal(mine.num_records, 2)
    assert.equal(mine.first_record, 1)
    assertSameRecords(mine.records, reference.records.slice(1))
  })

  it('the listing names every field; --lax on a damaged file lists the intact records and exits 3', async () => {
    const plain = await runCli(['dmap', 'dump', join(DMAP, 'test.rawacf'), '--records', '0'])
    assert.equal(plain.code, 0)
    assert.match(plain.stdout, /^record 0 at byte 0: 36764 bytes, 47 scalars, 6 arrays$/m)
    assert.match(plain.stdout, /^ {2}cp +short +-3530$/m)
    assert.match(plain.stdout, /^ {2}acfd +float +\[100\]\[22\]\[2\] /m)
    assert.doesNotMatch(plain.stdout, /^record 1/m)

    const lax = await runCli(['dmap', 'dump', join(CORRUPT, 'test.rawacf.unterminated-string'), '--lax'])
    assert.equal(lax.code, 3)
    assert.match(lax.stdout, /^record 0 at byte 0/m)
    assert.doesNotMatch(lax.stdout, /^record 1/m)
    assert.match(lax.stderr, /damaged from byte 36764 \(record 1\)/)

    const strict = await runCli(['dmap', 'dump', join(CORRUPT, 'test.rawacf.unterminated-string'), '--json'])
    assert.equal(strict.code, 3)
    assert.equal((JSON.parse(strict.stdout) as {error: {exitCode: number}}).error.exitCode, 3, 'strict --json writes no partial dump')
    assert.equal((await runCli(['dmap', 'dump', join(DMAP, 'test.rawacf'), '--records', '3..1'])).code, 2)
  })
})
