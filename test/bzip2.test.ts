// bzip2 through lbzip2 and bzip2: every output must pass `bzip2 -t` and decompress to its input;
// damage is reported from the exit code; streams are complete (multi-stream) and never hang.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {ExternalToolError, FormatError} from '../src/lib/errors.js'
import {run} from '../src/lib/exec.js'
import {
  type Bzip2ToolName,
  compressArgv,
  compressFile,
  compressStream,
  compressToFd,
  decompressFile,
  decompressStream,
  findBzip2Tool,
  hasBzip2Magic,
  testBzip2,
} from '../src/lib/formats/bzip2.js'
import {FIXTURES} from './helpers/cli.js'

const DMAP = join(FIXTURES, 'dmap')
const CORRUPT = join(DMAP, 'corrupt')
const scratch = mkdtempSync(join(tmpdir(), 'dataflow-bzip2-test-'))
after(() => rmSync(scratch, {recursive: true, force: true}))
const TOOLS: Bzip2ToolName[] = ['lbzip2', 'bzip2']

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return Buffer.concat(parts)
}

/** 3 MB that compress into several 900 kB blocks: half random, half repetitive. */
const SAMPLE = Buffer.concat([randomBytes(1_500_000), Buffer.alloc(1_500_000, 'SuperDARN ')])

/** The external judge: `bzip2 -t` must accept the file (exit 0). */
async function assertValidBzip2(file: string): Promise<void> {
  const result = await run(['bzip2', '-t', file], {okCodes: [0, 1, 2, 3]})
  assert.equal(result.code, 0, `bzip2 -t ${file}: ${result.stderr}`)
}

describe('compression (lbzip2, falling back to bzip2)', () => {
  it('prefers lbzip2 and builds argv arrays with absolute paths', () => {
    assert.equal(findBzip2Tool().name, 'lbzip2')
    const argv = compressArgv({name: 'lbzip2', path: '/usr/bin/lbzip2'}, '-odd name.dat', {threads: 3})
    assert.deepEqual(argv, ['/usr/bin/lbzip2', '-9', '-n', '3', '-c', join(process.cwd(), '-odd name.dat')])
    assert.deepEqual(compressArgv({name: 'bzip2', path: '/bin/bzip2'}, '/x/y'), ['/bin/bzip2', '-9', '-c', '/x/y'])
  })

  it('a missing tool is an ExternalToolError with the "unreachable" exit code', () => {
    assert.throws(
      () => findBzip2Tool({searchPath: join(scratch, 'no-such-dir')}),
      (e: unknown) => e instanceof ExternalToolError && e.exitCode === 5 && /lbzip2 or bzip2: not found/.test(e.message),
    )
  })

  for (const tool of TOOLS) {
    it(`${tool}: compressFile output passes bzip2 -t and decompresses to the input`, async () => {
      const source = join(scratch, `${tool}-sample.dat`)
      writeFileSync(source, SAMPLE)
      const target = join(scratch, `${tool} sample.dat.bz2`)
      writeFileSync(target, 'stale content that must be replaced')
      await compressFile(source, target, {tool})
      await assertValidBzip2(target)
      assert.ok(hasBzip2Magic(readFileSync(target)))
      assert.equal(sha256(await collect(decompressFile(target, {tool}))), sha256(SAMPLE))
      assert.deepEqual(readdirSync(scratch).filter((f) => f.includes('.dataflow-tmp-')), [])
    })

    it(`${tool}: compressStream / decompressStream round trip through pipes`, async () => {
      async function* pieces(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < SAMPLE.length; i += 65_521) yield SAMPLE.subarray(i, i + 65_521)
      }
      const compressed = await collect(compressStream(pieces(), {tool}))
      const file = join(scratch, `${tool}-stream.bz2`)
      writeFileSync(file, compressed)
      await assertValidBzip2(file)
      assert.equal(sha256(await collect(decompressStream([compressed], {tool}))), sha256(SAMPLE))
    })

    it(`${tool}: empty input gives a valid empty stream`, async () => {
      const compressed = await collect(compressStream([], {tool}))
      if (tool === 'bzip2') assert.equal(compressed.toString('hex'), '425a683917724538509000000000') // an empty bzip2 -9 stream
      const file = join(scratch, `${tool}-empty.bz2`)
      writeFileSync(file, compressed)
      await assertValidBzip2(file)
      assert.equal((await collect(decompressFile(file, {tool}))).length, 0)
    })

    it(`${tool}: reads every stream of a multi-stream file`, async () => {
      const plain = readFileSync(join(DMAP, 'test.rawacf'))
      const out = await collect(decompressFile(join(CORRUPT, 'test.rawacf.multistream.bz2'), {tool}))
      assert.ok(out.equals(Buffer.concat([plain, plain])))
    })

    it(`${tool}: damaged input is a FormatError naming the file`, async () => {
      for (const name of ['test.rawacf.bz2.corrupt', 'test.rawacf.bz2.truncated', 'magic-only.rawacf.bz2']) {
        const file = join(CORRUPT, name)
        await assert.rejects(collect(decompressFile(file, {tool})), (e: unknown) => e instanceof FormatError && e.file === file && /^bzip2 data error: /.test(e.reason))
      }
    })

    it(`${tool}: testBzip2 is ok for good files and gives a one-line reason for damaged ones`, async () => {
      assert.deepEqual(await testBzip2(join(DMAP, 'test.rawacf.bz2'), {tool}), {ok: true})
      assert.deepEqual(await testBzip2(join(CORRUPT, 'test.rawacf.multistream.bz2'), {tool}), {ok: true})
      assert.deepEqual(await testBzip2(join(CORRUPT, 'empty.rawacf.bz2'), {tool}), {ok: true})
      for (const name of ['test.rawacf.bz2.corrupt', 'test.rawacf.bz2.truncated', 'magic-only.rawacf.bz2', 'garbage.rawacf', 'empty.rawacf']) {
        const file = join(CORRUPT, name)
        const result = await testBzip2(file, {tool})
        assert.equal(result.ok, false, name)
        if (!result.ok) {
          assert.ok(result.reason.startsWith(`${file}: `), result.reason)
          assert.doesNotMatch(result.reason, /\n/)
          assert.ok(result.reason.length > file.length + 5, result.reason)
        }
      }
      await assert.rejects(testBzip2(join(scratch, 'missing.bz2'), {tool}), (e: unknown) => e instanceof FormatError && /cannot read \(ENOENT\)/.test(e.reason))
    })
  }

  it('compressToFd: an error of the source is passed on as it is, and the tool stopped', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield SAMPLE.subarray(0, 100_000)
      throw new RangeError('source broke')
    }
    const file = join(scratch, 'partial.bz2')
    const {openSync, closeSync} = await import('node:fs')
    const fd = openSync(file, 'w')
    try {
      await assert.rejects(compressToFd(failing(), fd), RangeError)
    } finally {
      closeSync(fd)
    }
  })

  it('stopping a decompression early kills the tool without hanging', async () => {
    const file = join(scratch, 'big.bz2')
    writeFileSync(join(scratch, 'big.dat'), Buffer.concat([SAMPLE, SAMPLE, SAMPLE]))
    await compressFile(join(scratch, 'big.dat'), file)
    const started = Date.now()
    for await (const _ of decompressFile(file)) break
    assert.ok(Date.now() - started < 5000)
  })

  it('an aborted signal interrupts a stream', async () => {
    const controller = new AbortController()
    controller.abort()
    await assert.rejects(collect(decompressFile(join(DMAP, 'test.rawacf.bz2'), {signal: controller.signal})), /interrupted/)
  })
})
