import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {dirname, join} from 'node:path'
import {after, describe, it} from 'node:test'

import {LockedError} from '../src/lib/errors.js'
import {acquireLock, lockFileFor} from '../src/lib/lock.js'
import {REPO} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())

describe('per-(stage, radar) lock', () => {
  it('a second holder gets a clear LockedError; release frees it; radars are independent', async () => {
    const state = sandbox.host('a').at('state')
    const lock = await acquireLock(state, 'convert-on-campus', 'sas')
    await assert.rejects(acquireLock(state, 'convert-on-campus', 'sas'), (error: unknown) => {
      assert.ok(error instanceof LockedError)
      assert.equal(error.exitCode, 6)
      assert.match(error.message, new RegExp(`convert-on-campus for sas is already running \\(pid ${process.pid} on `))
      return true
    })
    const other = await acquireLock(state, 'convert-on-campus', 'pgr')
    await other.release()
    await lock.release()
    assert.equal(existsSync(lock.file), false)
    await (await acquireLock(state, 'convert-on-campus', 'sas')).release()
  })

  it('is held across processes', async () => {
    const state = sandbox.host('b').at('state')
    const script = `import {acquireLock} from ${JSON.stringify(join(REPO, 'src/lib/lock.ts'))}; await acquireLock(${JSON.stringify(state)}, 'rsync-to-nas', 'sas'); console.log('held'); setTimeout(() => {}, 30000)`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: REPO, stdio: ['ignore', 'pipe', 'inherit']})
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
      await assert.rejects(acquireLock(state, 'rsync-to-nas', 'sas'), new RegExp(`pid ${child.pid}`))
    } finally {
      child.kill('SIGKILL')
      await new Promise((r) => child.once('close', r))
    }
    // The holder died without releasing: its lock is stale and is taken over.
    const lock = await acquireLock(state, 'rsync-to-nas', 'sas')
    assert.equal((JSON.parse(readFileSync(lock.file, 'utf8')) as {pid: number}).pid, process.pid)
    await lock.release()
  })

  it('takes over a stale lock left by a dead process', async () => {
    const state = sandbox.host('c').at('state')
    const dead = spawnSync('true').pid
    const file = lockFileFor(state, 'distribute-borealis-data', 'sas')
    mkdirSync(dirname(file), {recursive: true})
    writeFileSync(file, JSON.stringify({pid: dead, host: hostname(), since: '2020-01-01T00:00:00Z', command: 'x'}))
    const lock = await acquireLock(state, 'distribute-borealis-data', 'sas')
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as {pid: number}).pid, process.pid)
    await lock.release()
  })
})
