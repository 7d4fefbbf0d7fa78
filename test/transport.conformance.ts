// The Transport conformance suite (src/lib/transport/types.ts): every implementation runs the same
// tests against a real destination. Not a *.test.ts file: test/transport.integration.test.ts calls
// transportConformance() once per implementation (local file system, rsync over a real sshd).
//
// The fixture gives the suite a way to look at and prepare the destination directly (for the
// implementations tested here the destination is on this machine, reached through the transport
// under test for every write the suite checks).
import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, type Stats, statSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {ConflictError} from '../src/lib/errors.js'
import {TEMP_MARKER} from '../src/lib/fs/atomic.js'
import {type HashAlgorithm, hashBytes} from '../src/lib/hash.js'
import type {Transport} from '../src/lib/transport/types.js'

export interface ConformanceFixture {
  transport: Transport
  /** An empty directory on the destination, absolute. */
  destRoot: string
  readDest(path: string): Buffer
  writeDest(path: string, data: string | Uint8Array): void
  /** stat of a destination path, or null when it does not exist. */
  statDest(path: string): Stats | null
  /** Every file and directory below `dir` on the destination, relative to it. */
  listDest(dir: string): string[]
  /** Makes a destination directory refuse new files, even for root; returns the undo. */
  denyWrites(dir: string): Promise<() => Promise<void>>
  /** Mounts a tiny file system at a destination directory, so a large file cannot fit; returns the undo. */
  fillUp(dir: string): Promise<() => Promise<void>>
  cleanup(): Promise<void>
}

/** Names that break naive quoting or option parsing. None may be read as shell code or an option. */
export const AWKWARD_NAMES = [
  'with space.rawacf.bz2',
  "it's quoted",
  'double "quoted"',
  '$(touch pwned)',
  '`touch pwned-backtick`',
  '$HOME ${PATH}',
  'semi; touch pwned-semi; echo',
  'line1\nline2',
  '-rf x',
  '--help',
  '*.glob?[ab]',
  '\\back\\slash\\',
  'tab\there | pipe & amp > gt < lt # hash !bang',
  '~tilde',
  ' leading and trailing space ',
  'ünïcødé ✓ 日本',
]

function randomish(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    data[i] = x & 0xff
  }
  return data
}

interface SourceSnapshot {
  data: Buffer
  mode: number
  mtimeMs: number
  ino: number
}

function snapshot(path: string): SourceSnapshot {
  const info = statSync(path)
  return {data: readFileSync(path), mode: info.mode, mtimeMs: info.mtimeMs, ino: info.ino}
}

export function transportConformance(name: string, makeTransport: () => Promise<ConformanceFixture>): void {
  describe(`Transport conformance: ${name}`, () => {
    let fx: ConformanceFixture
    let t: Transport
    let src: string
    let n = 0
    /** A fresh source file with the given content (and mode), in a local directory of its own. */
    const source = (data: string | Buffer, fileName = `source-${++n}.dat`, mode = 0o644) => {
      const dir = mkdtempSync(join(src, 's-'))
      const path = join(dir, fileName)
      writeFileSync(path, data)
      chmodSync(path, mode)
      return path
    }
    const dest = (...parts: string[]) => join(fx.destRoot, ...parts)
    const temps = () => fx.listDest(fx.destRoot).filter((p) => p.includes(TEMP_MARKER))
    const md5 = (data: string | Buffer, algorithm: HashAlgorithm = 'md5') => hashBytes(data, algorithm)
    const assertSourceUnchanged = (path: string, before: SourceSnapshot) => {
      const now = snapshot(path)
      assert.ok(now.data.equals(before.data), `${path}: source bytes changed`)
      assert.equal(now.mode, before.mode, 'source mode changed')
      assert.equal(now.mtimeMs, before.mtimeMs, 'source mtime changed')
      assert.equal(now.ino, before.ino, 'source was replaced')
    }

    before(async () => {
      fx = await makeTransport()
      t = fx.transport
      src = mkdtempSync(join(tmpdir(), 'dataflow-conformance-src-'))
      await t.open()
      await t.open() // idempotent
    })
    after(async () => {
      await fx?.cleanup()
      if (src && !process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(src, {recursive: true, force: true})
    })

    it('put copies the bytes, creates missing parents, and returns the re-read hash of the destination', async () => {
      const data = randomish(300_000, 1)
      const path = source(data)
      const before = snapshot(path)
      const target = dest('a', 'b', 'c', 'file.rawacf.bz2')
      const result = await t.put(path, target, {algorithm: 'md5'})
      assert.deepEqual(result, {outcome: 'copied', hash: md5(data), sourceHash: md5(data), bytes: data.length})
      assert.ok(fx.readDest(target).equals(data))
      assertSourceUnchanged(path, before)
      assert.deepEqual(temps(), [])
    })

    it('put verifies with sha256 as well', async () => {
      const data = randomish(10_000, 2)
      const result = await t.put(source(data), dest('sha', 'x.h5'), {algorithm: 'sha256'})
      assert.equal(result.hash, md5(data, 'sha256'))
      assert.equal(result.sourceHash, result.hash)
    })

    it('an identical destination: outcome "identical", nothing written (same inode and mtime)', async () => {
      const data = randomish(50_000, 3)
      const path = source(data)
      const target = dest('same', 'file.dat')
      await t.put(path, target, {algorithm: 'md5'})
      const first = fx.statDest(target)!
      const before = snapshot(path)
      const again = await t.put(path, target, {algorithm: 'md5'})
      assert.deepEqual(again, {outcome: 'identical', hash: md5(data), sourceHash: md5(data), bytes: data.length})
      const second = fx.statDest(target)!
      assert.equal(second.ino, first.ino)
      assert.equal(second.mtimeMs, first.mtimeMs)
      assertSourceUnchanged(path, before)
      assert.deepEqual(temps(), [])
    })

    it('a different destination: ConflictError with both hashes, destination and source untouched', async () => {
      const target = dest('conflict', 'file.dat')
      fx.writeDest(target, 'what was there before')
      const existing = fx.statDest(target)!
      const path = source('new content')
      const before = snapshot(path)
      await assert.rejects(t.put(path, target, {algorithm: 'md5'}), (error: unknown) => {
        assert.ok(error instanceof ConflictError, `expected ConflictError, got ${String(error)}`)
        assert.equal(error.expected, md5('new content'))
        assert.equal(error.actual, md5('what was there before'))
        assert.equal(error.transient, false)
        return true
      })
      assert.equal(fx.readDest(target).toString(), 'what was there before')
      assert.equal(fx.statDest(target)!.ino, existing.ino)
      assertSourceUnchanged(path, before)
      assert.deepEqual(temps(), [])
    })

    it('onConflict "replace" replaces a different destination atomically and verifies the new copy', async () => {
      const target = dest('replace', 'file.dat')
      fx.writeDest(target, 'a bad earlier copy')
      const data = randomish(70_000, 4)
      const path = source(data)
      const result = await t.put(path, target, {algorithm: 'md5', onConflict: 'replace', mode: 0o640})
      assert.equal(result.outcome, 'copied')
      assert.equal(result.hash, md5(data))
      assert.ok(fx.readDest(target).equals(data))
      assert.equal(fx.statDest(target)!.mode & 0o7777, 0o640)
      assert.deepEqual(temps(), [])
    })

    it('mode: applied when given, else the source permission bits are kept', async () => {
      const given = dest('mode', 'given.dat')
      await t.put(source('m1', 'm1', 0o600), given, {algorithm: 'md5', mode: 0o664})
      assert.equal(fx.statDest(given)!.mode & 0o7777, 0o664)
      const kept = dest('mode', 'kept.dat')
      await t.put(source('m2', 'm2', 0o604), kept, {algorithm: 'md5'})
      assert.equal(fx.statDest(kept)!.mode & 0o7777, 0o604)
    })

    it('awkward names (spaces, quotes, $(…), backticks, newline, leading dashes, unicode) arrive intact and no shell ever runs them', async () => {
      const awkwardDir = dest("dir with 'quotes' and $(touch pwned-dir)")
      for (const [i, fileName] of AWKWARD_NAMES.entries()) {
        const data = `file ${i}: ${fileName}`
        const path = source(data, fileName)
        const before = snapshot(path)
        const target = join(awkwardDir, fileName)
        const result = await t.put(path, target, {algorithm: 'md5'})
        assert.equal(result.hash, md5(data), JSON.stringify(fileName))
        assert.equal(fx.readDest(target).toString(), data, JSON.stringify(fileName))
        assert.equal(await t.hash(target, 'md5'), md5(data), JSON.stringify(fileName))
        assert.equal((await t.put(path, target, {algorithm: 'md5'})).outcome, 'identical', JSON.stringify(fileName))
        assertSourceUnchanged(path, before)
      }
      assert.deepEqual(fx.listDest(awkwardDir).sort(), [...AWKWARD_NAMES].sort())
      await t.remove(join(awkwardDir, '-rf x'))
      assert.equal(fx.statDest(join(awkwardDir, '-rf x')), null)
      assert.equal(fx.listDest(awkwardDir).length, AWKWARD_NAMES.length - 1)
      // Wherever a shell could have run `touch pwned…` (its working directory: ours, the remote
      // login's home, the source and destination directories), nothing appeared.
      for (const dir of [process.cwd(), homedir(), src, fx.destRoot, awkwardDir]) {
        const found = readdirSync(dir).filter((f) => f.startsWith('pwned'))
        assert.deepEqual(found, [], `${dir} holds ${found.join(', ')}`)
      }
      assert.deepEqual(temps(), [])
    })

    it('hash(): the destination hash, or null when the file does not exist', async () => {
      const target = dest('hash', 'h.dat')
      assert.equal(await t.hash(target, 'md5'), null)
      assert.equal(await t.hash(dest('no', 'such', 'dir', 'h.dat'), 'sha256'), null)
      fx.writeDest(target, 'hash me')
      assert.equal(await t.hash(target, 'md5'), md5('hash me'))
      assert.equal(await t.hash(target, 'sha256'), md5('hash me', 'sha256'))
    })

    it('isDirectory(): true for a directory, false when absent or a file', async () => {
      const dir = dest('isdir')
      assert.equal(await t.isDirectory(dir), false)
      await t.mkdir(dir)
      assert.equal(await t.isDirectory(dir), true)
      const file = join(dir, 'f.dat')
      await t.put(source(randomish(100, 9)), file, {algorithm: 'md5'})
      assert.equal(await t.isDirectory(file), false)
      assert.equal(await t.isDirectory(join(dir, 'no such dir')), false)
    })

    it('mkdir() creates parents and is idempotent; remove() removes and is idempotent', async () => {
      const dir = dest('made', 'deep', 'er')
      await t.mkdir(dir)
      await t.mkdir(dir)
      assert.ok(fx.statDest(dir)?.isDirectory())
      const target = join(dir, 'gone.dat')
      fx.writeDest(target, 'bye')
      await t.remove(target)
      assert.equal(fx.statDest(target), null)
      await t.remove(target)
      await t.remove(dest('never', 'existed.dat'))
    })

    it('describe() names the destination path', () => {
      assert.ok(t.describe('/x/y.dat').endsWith('/x/y.dat'))
    })

    it('a missing source: rejected, nothing created under the final name, no temp left', async () => {
      const target = dest('missing-source', 'x.dat')
      await assert.rejects(t.put(join(src, 'does-not-exist.dat'), target, {algorithm: 'md5'}))
      assert.equal(fx.statDest(target), null)
      assert.deepEqual(temps(), [])
    })

    it('a regular file where a destination directory is expected: permanent error, source intact', async () => {
      fx.writeDest(dest('blocker'), 'I am a file')
      const path = source('data')
      const before = snapshot(path)
      const target = dest('blocker', 'sub', 'x.dat')
      await assert.rejects(t.put(path, target, {algorithm: 'md5'}), (error: unknown) => {
        assert.notEqual((error as {transient?: boolean}).transient, true, String(error))
        assert.doesNotMatch((error as Error).message, /\n/)
        return true
      })
      assert.equal(fx.readDest(dest('blocker')).toString(), 'I am a file')
      assertSourceUnchanged(path, before)
      assert.deepEqual(temps(), [])
    })

    it('a destination directory that refuses writes (even to root): permanent one-line error, source intact, nothing left', async () => {
      const dir = dest('readonly')
      await t.mkdir(dir)
      const path = source(randomish(20_000, 5))
      const before = snapshot(path)
      const undo = await fx.denyWrites(dir)
      try {
        await assert.rejects(t.put(path, join(dir, 'x.dat'), {algorithm: 'md5'}), (error: unknown) => {
          assert.notEqual((error as {transient?: boolean}).transient, true, String(error))
          assert.doesNotMatch((error as Error).message, /\n/)
          return true
        })
      } finally {
        await undo()
      }
      assert.deepEqual(fx.listDest(dir), [])
      assertSourceUnchanged(path, before)
    })

    it('a full destination file system: permanent one-line error, source intact, nothing left', async () => {
      const dir = dest('full')
      await t.mkdir(dir)
      const path = source(randomish(512 * 1024, 6))
      const before = snapshot(path)
      const undo = await fx.fillUp(dir)
      try {
        await assert.rejects(t.put(path, join(dir, 'big.dat'), {algorithm: 'md5'}), (error: unknown) => {
          assert.notEqual((error as {transient?: boolean}).transient, true, String(error))
          assert.doesNotMatch((error as Error).message, /\n/)
          return true
        })
        assert.deepEqual(fx.listDest(dir), [])
      } finally {
        await undo()
      }
      assertSourceUnchanged(path, before)
    })

    it('after all of the above: no temporary file anywhere under the destination', () => {
      assert.deepEqual(temps(), [])
      assert.ok(existsSync(src))
    })
  })
}
