import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {after, describe, it} from 'node:test'

import {VerifyError} from '../src/lib/errors.js'
import {run} from '../src/lib/exec.js'
import {cleanStaleTemps, copyFileVerified, tempPathFor, writeFileAtomic} from '../src/lib/fs/atomic.js'
import {LocalTransport, moveVerified} from '../src/lib/transport/index.js'
import {hashFile, parseHashLine} from '../src/lib/hash.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())
const at = (...p: string[]) => sandbox.host('fs').at(...p)

describe('hash', () => {
  it('matches md5sum and sha256sum on a file with an awkward name', async () => {
    const file = at("we ird $name; 'q'.bin")
    writeFileSync(file, Buffer.alloc(3 << 20, 7))
    for (const [algorithm, tool] of [['md5', 'md5sum'], ['sha256', 'sha256sum']] as const) {
      const {stdout} = await run([tool, '--', file])
      assert.equal(await hashFile(file, algorithm), parseHashLine(stdout.trim().split('\n')[0]!)?.hash)
    }
  })
})

describe('atomic writes and verified moves', () => {
  it('writeFileAtomic creates, refuses to overwrite, overwrites on request, leaves no temp', async () => {
    const file = at('w', 'a.txt')
    assert.equal(await writeFileAtomic(file, 'one', {mode: 0o640}), true)
    assert.equal(statSync(file).mode & 0o777, 0o640)
    assert.equal(await writeFileAtomic(file, 'two'), false)
    assert.equal(readFileSync(file, 'utf8'), 'one')
    assert.equal(await writeFileAtomic(file, 'three', {overwrite: true}), true)
    assert.equal(readFileSync(file, 'utf8'), 'three')
    assert.deepEqual(readdirSync(at('w')), ['a.txt'])
  })

  it('copyFileVerified copies with mode, is idempotent for identical content, refuses different content', async () => {
    const src = at('c', 'src.dat')
    const dst = at('c', 'out', 'dst.dat')
    mkdirSync(at('c'), {recursive: true})
    writeFileSync(src, 'payload')
    const first = await copyFileVerified(src, dst, {algorithm: 'md5', mode: 0o664})
    assert.equal(first.outcome, 'copied')
    assert.equal(statSync(dst).mode & 0o777, 0o664)
    assert.equal((await copyFileVerified(src, dst, {algorithm: 'md5'})).outcome, 'identical')
    writeFileSync(src, 'payloaX')
    await assert.rejects(copyFileVerified(src, dst, {algorithm: 'md5'}), (error: unknown) => {
      assert.ok(error instanceof VerifyError)
      assert.notEqual(error.expected, error.actual)
      return true
    })
    assert.equal(readFileSync(dst, 'utf8'), 'payload', 'the existing destination is never overwritten')
  })

  it('moveVerified (local) deletes the source only after the destination verified', async () => {
    mkdirSync(at('m'), {recursive: true})
    const src = at('m', 'block.h5')
    writeFileSync(src, Buffer.alloc(100_000, 1))
    const dst = at('m', 'nas', 'block.h5')
    const result = await moveVerified(new LocalTransport(), src, dst, {algorithm: 'sha256', retry: {attempts: 1, initialDelayMs: 0, maxDelayMs: 0}})
    assert.equal(existsSync(src), false)
    assert.equal(result.hash, await hashFile(dst, 'sha256'))
    // A conflicting destination: the source stays.
    writeFileSync(src, Buffer.alloc(100_000, 2))
    await assert.rejects(moveVerified(new LocalTransport(), src, dst, {algorithm: 'sha256', retry: {attempts: 1, initialDelayMs: 0, maxDelayMs: 0}}), VerifyError)
    assert.equal(existsSync(src), true)
  })

  it('cleanStaleTemps removes only old temp files', async () => {
    const dir = at('t')
    mkdirSync(dir, {recursive: true})
    await writeFileAtomic(at('t', 'keep.txt'), 'k')
    const old = tempPathFor(at('t', 'x.dat'))
    const fresh = tempPathFor(at('t', 'y.dat'))
    writeFileSync(old, 'o')
    writeFileSync(fresh, 'f')
    utimesSync(old, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000))
    assert.deepEqual(await cleanStaleTemps(dir, 600_000), [old])
    assert.ok(existsSync(fresh))
    assert.ok(existsSync(at('t', 'keep.txt')))
  })
})
