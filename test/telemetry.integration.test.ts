import assert from 'node:assert/strict'
import {readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {pushSummary, telemetryDestination} from '../src/lib/log/telemetry.js'
import {type SshdHandle, startSshd} from './helpers/sshd.js'

const TIMEOUTS = {sshConnectSeconds: 5, telemetrySeconds: 20}

describe('telemetry: pushSummary to a real sshd', () => {
  let sshd: SshdHandle
  let summaryFile: string
  let telemetryDir: string
  before(async () => {
    sshd = await startSshd()
    summaryFile = join(sshd.dir, '20240301.rsync_to_nas_summary.log')
    writeFileSync(summaryFile, '#'.repeat(80) + '\nrsync_to_nas: 20240301 12:00:00\n  3 files transferred\n')
    utimesSync(summaryFile, new Date('2024-03-01T12:34:56Z'), new Date('2024-03-01T12:34:56Z'))
    telemetryDir = join(sshd.dir, 'logman', 'data_flow_logs')
  })
  after(async () => {
    await sshd?.stop()
  })

  it('lands at <dir>/<rad>/<stage>/<file> on the real sshd, creating the directories (telemetry-file-not-dir), same bytes and mtime', async () => {
    const result = await pushSummary({summaryFile, host: sshd.host, telemetryDir, radar: 'sas', stage: 'rsync_to_nas', timeouts: TIMEOUTS})
    assert.deepEqual(result, {ok: true, destination: `${sshd.host.target}:${telemetryDir}/sas/rsync_to_nas/`})
    const landed = join(telemetryDir, 'sas', 'rsync_to_nas', '20240301.rsync_to_nas_summary.log')
    assert.ok(statSync(join(telemetryDir, 'sas', 'rsync_to_nas')).isDirectory())
    assert.deepEqual(readFileSync(landed), readFileSync(summaryFile))
    assert.equal(statSync(landed).mtimeMs, statSync(summaryFile).mtimeMs)
  })

  it('pushing again (the summary grew) replaces the copy and still succeeds', async () => {
    writeFileSync(summaryFile, readFileSync(summaryFile, 'utf8') + 'second run\n')
    for (let i = 0; i < 2; i++) {
      const result = await pushSummary({summaryFile, host: sshd.host, telemetryDir: `${telemetryDir}/`, radar: 'sas', stage: 'rsync_to_nas', timeouts: TIMEOUTS})
      assert.equal(result.ok, true, JSON.stringify(result))
    }
    const landed = join(telemetryDir, 'sas', 'rsync_to_nas', '20240301.rsync_to_nas_summary.log')
    assert.deepEqual(readFileSync(landed), readFileSync(summaryFile))
  })

  it('an unreachable telemetry host (closed port) is returned as ok:false, quickly, without throwing', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const {port} = server.address() as {port: number}
        server.close(() => resolve(port))
      })
    })
    const started = performance.now()
    const result = await pushSummary({
      summaryFile,
      host: {...sshd.host, port: closedPort},
      telemetryDir,
      radar: 'sas',
      stage: 'rsync_to_nas',
      timeouts: {sshConnectSeconds: 2, telemetrySeconds: 5},
    })
    const elapsed = performance.now() - started
    assert.equal(result.ok, false)
    // rsync reports ssh's 255 or, when ssh dies before the protocol starts, its own 12 ("error in
    // rsync protocol data stream"): both seen here with rsync 3.5.0. Both classify as retryable.
    assert.ok(!result.ok && /exit code (255|12)\b/.test(result.error), JSON.stringify(result))
    assert.ok(elapsed < 5000, `took ${elapsed} ms`)
  })

  it('a host that accepts TCP but never speaks SSH is cut off by the timeout and returned as ok:false', async () => {
    const sockets: import('node:net').Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const {port} = silent.address() as {port: number}
    const started = performance.now()
    try {
      const result = await pushSummary({
        summaryFile,
        host: {...sshd.host, port},
        telemetryDir,
        radar: 'sas',
        stage: 'rsync_to_nas',
        timeouts: {sshConnectSeconds: 1, telemetrySeconds: 3},
      })
      assert.equal(result.ok, false)
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
    const elapsed = performance.now() - started
    assert.ok(elapsed < 3000 + 1000, `took ${elapsed} ms`)
  })

  it('refuses radar or stage names that are not one path component, without throwing', async () => {
    const result = await pushSummary({summaryFile, host: sshd.host, telemetryDir, radar: '../etc', stage: 'rsync_to_nas', timeouts: TIMEOUTS})
    assert.equal(result.ok, false)
    assert.equal(telemetryDestination('/logs/', 'sas', 'convert_on_campus'), '/logs/sas/convert_on_campus/')
  })
})
