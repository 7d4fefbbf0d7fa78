// `dataflow daemon` as a child process: one per role and radar, a burst that overflows the inotify
// queue, polling instead of inotify, a failing stage that does not stop the chain, SIGTERM with a
// stage in flight, and readiness/liveness to a real systemd notify socket.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync, copyFileSync} from 'node:fs'
import {createServer, type AddressInfo} from 'node:net'
import {basename, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import YAML from 'yaml'

import {FIXTURES, runCli} from './helpers/cli.js'
import {type HostRoot, makeSandbox} from './helpers/hosts.js'
import {startSshd, type SshdHandle} from './helpers/sshd.js'
import {type DaemonEvent, killAllDaemons, spawnDaemon, treeFiles} from './daemon-process.js'
import {bytesArriving, eventually} from './helpers/wait.js'

const BOREALIS = join(FIXTURES, 'borealis')
const sandbox = makeSandbox('dataflow-daemon-')
let sshd: SshdHandle
before(async () => {
  sshd = await startSshd()
})
after(async () => {
  killAllDaemons()
  await sshd?.stop()
  sandbox.cleanup()
})

const md5 = (path: string) => spawnSync('md5sum', ['--', path], {encoding: 'utf8'}).stdout.split(' ')[0]
const is = (name: string, extra: (e: DaemonEvent) => boolean = () => true) => (e: DaemonEvent) => e.event === name && extra(e)

/** A config whose every path lies in `host`'s root; `over` is merged in. */
function writeConfig(host: HostRoot, over: Record<string, unknown> = {}): string {
  const base = {
    radar: 'sas',
    logging: {directory: host.at('logs')},
    state: {directory: host.at('state')},
    borealis: {
      dataDirectory: host.at('borealis_data'),
      flagsDirectory: host.at('flags'),
      quarantineDirectory: host.at('quarantine'),
      settleSeconds: 1,
      untriggeredSettleSeconds: 1,
    },
    site: {
      nasDataRoot: host.at('nas'),
      camDirectory: host.at('cam'),
      plotDirectory: host.at('plots'),
      watchDirectory: host.at('site_watch'),
      flagsDirectory: host.at('flags'),
    },
    campus: {
      dataDirectory: host.at('sddata', '{radar}_data'),
      holdingDirectory: host.at('sddata', '{radar}_holding_dir'),
      plotsDirectory: host.at('sddata', '{radar}_iq_plots'),
      plotsArchiveDirectory: host.at('sddata', '{radar}_iq_plots', 'archive'),
      camRoot: host.at('campus_cam'),
      conversionFailureDirectory: host.at('sddata', 'conversion_failure'),
      specialExperimentsDirectory: host.at('sddata', 'special'),
      archiveRoot: host.at('archive'),
      staging: [{name: 'mirror', path: host.at('mirror'), mode: '664'}],
      watchDirectory: host.at('campus_watch'),
    },
    retry: {attempts: 2, initialDelayMs: 50, maxDelayMs: 100},
    timeouts: {sshConnectSeconds: 5},
    daemon: {rescanIntervalMinutes: 0.05},
  }
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out = {...a}
    for (const [k, v] of Object.entries(b)) {
      const cur = out[k]
      out[k] = cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v) ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v
    }
    return out
  }
  const file = host.at('config.yaml')
  writeFileSync(file, YAML.stringify(merge(base, over)))
  // The NAS is mounted: its data root exists (rsync-to-nas refuses a missing one).
  mkdirSync(host.at('nas'), {recursive: true})
  return file
}

/** A Borealis-like file whose mtime matches the time in its name (check_timestamp passes). */
function borealisFile(dir: string, time: Date, suffix: string, content: string | Buffer): string {
  const p = (n: number) => String(n).padStart(2, '0')
  const name = `${time.getUTCFullYear()}${p(time.getUTCMonth() + 1)}${p(time.getUTCDate())}.${p(time.getUTCHours())}${p(time.getUTCMinutes())}.${p(time.getUTCSeconds())}.${suffix}`
  const path = join(dir, name)
  writeFileSync(path, content)
  utimesSync(path, time, time)
  return path
}

describe('dataflow daemon (child processes)', () => {
  it('one daemon per role and radar: a second one exits 6 naming the first; another radar may run; SIGTERM exits 0', async () => {
    const host = sandbox.host('single')
    const config = writeConfig(host)
    const sas = spawnDaemon('campus sas', ['--role', 'campus', '--radar', 'sas', '--config', config])
    const pgr = spawnDaemon('campus pgr', ['--role', 'campus', '--radar', 'pgr', '--config', config])
    await sas.waitFor(is('daemon.ready'), 30_000, 'ready')
    await pgr.waitFor(is('daemon.ready'), 30_000, 'ready')
    const second = await runCli(['daemon', '--role', 'campus', '--radar', 'sas', '--config', config])
    assert.equal(second.code, 6, second.stderr)
    assert.match(second.stderr, new RegExp(`^dataflow: a campus daemon for sas is already running \\(pid ${sas.pid} on .* since .*\\)`, 'm'))
    assert.deepEqual(await sas.stop(), {code: 0, signal: null})
    assert.deepEqual(await pgr.stop(), {code: 0, signal: null})
    assert.ok(sas.events.some(is('daemon.stopped')))
    // The lock went with it: the next start works.
    const again = spawnDaemon('campus sas again', ['--role', 'campus', '--radar', 'sas', '--config', config])
    await again.waitFor(is('daemon.ready'), 30_000, 'ready')
    assert.equal((await again.stop()).code, 0)
  })

  it('a burst of 2 000 files overflowing the inotify queue (max_queued_events = 16) is fully processed', async (t) => {
    const host = sandbox.host('burst')
    const config = writeConfig(host)
    const data = host.at('borealis_data')
    mkdirSync(data, {recursive: true})
    mkdirSync(host.at('site_watch'), {recursive: true})
    const limit = '/proc/sys/fs/inotify/max_queued_events'
    const saved = readFileSync(limit, 'utf8').trim()
    // The limit is taken when the daemon creates its inotify instance; restored as soon as it is ready.
    writeFileSync(limit, '16')
    let daemon
    try {
      daemon = spawnDaemon('borealis', ['--role', 'borealis', '--config', config])
      await daemon.waitFor(is('daemon.ready'), 30_000, 'ready')
    } finally {
      writeFileSync(limit, saved)
    }
    // Stopped, the daemon reads nothing: the burst piles up in the kernel queue, which overflows.
    daemon.signal('SIGSTOP')
    const start = Date.UTC(2023, 9, 1)
    const expected = new Map<string, string>()
    for (let i = 0; i < 2000; i++) {
      const path = borealisFile(data, new Date(start + i * 60_000), `sas.0.antennas_iq.h5`, `burst file ${i}\n`)
      expected.set(path.slice(data.length + 1), `burst file ${i}\n`)
    }
    const written = Date.now()
    daemon.signal('SIGCONT')
    await daemon.waitFor(is('watch.overflow'), 20_000, 'the overflow')
    const nas = host.at('nas', 'antennas_iq_array')
    await eventually(
      () => existsSync(nas) && readdirSync(nas).filter((n) => !n.startsWith('.')).length === 2000 && readdirSync(data).length === 0,
      120_000,
      () => `${existsSync(nas) ? readdirSync(nas).length : 0} of 2000 on the NAS, ${readdirSync(data).length} left`,
    )
    const seconds = (Date.now() - written) / 1000
    for (const [name, content] of expected) assert.equal(readFileSync(join(nas, name), 'utf8'), content, name)
    assert.equal((await daemon.stop()).code, 0)
    const overflowRuns = daemon.events.filter(is('chain.start', (e) => Object.keys(e.reasons as object).includes('overflow')))
    assert.ok(overflowRuns.length >= 1, 'the overflow ran the chain')
    t.diagnostic(`burst: 2000 files processed in ${seconds.toFixed(1)} s after the overflow (${daemon.events.filter(is('chain.start')).length} runs)`)
  })

  it('--poll watches by listing (the NFS/CIFS path), says so, and a new block moves the previous one', async () => {
    const host = sandbox.host('poll')
    // No rescans during the test: only the poll can start a run.
    const config = writeConfig(host, {daemon: {rescanIntervalMinutes: 10}})
    const data = host.at('borealis_data')
    mkdirSync(join(data, 'sub'), {recursive: true})
    const daemon = spawnDaemon('borealis', ['--role', 'borealis', '--config', config, '--poll', '--poll-interval', '0.2'])
    await daemon.waitFor(is('rescan.idle', (e) => e.reason === 'startup'), 30_000, 'the start-up reconcile')
    const poll = await daemon.waitFor(is('watch.poll'), 1000, 'the polling log line')
    assert.equal(poll.level, 'warn')
    assert.match(String(poll.reason), /polling requested/)
    const old = borealisFile(join(data, 'sub'), new Date(Date.UTC(2023, 9, 4, 14)), 'sas.0.rawacf.h5', readFileSync(join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')))
    await daemon.waitFor(is('trigger.received', (e) => e.file === old && e.kind === 'poll'), 10_000, 'the poll trigger')
    // Its own block is still being written: it waits until the next block's first file.
    // Borealis is writing it: its modification time is now.
    const next = join(data, '20231004.1600.00.sas.0.rawacf.h5')
    writeFileSync(next, 'next block, being written')
    await daemon.waitFor(is('trigger.received', (e) => e.file === next), 10_000, 'the next block')
    await eventually(() => !existsSync(old), 20_000, () => `${old} still there`)
    assert.equal(md5(host.at('nas', 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')), md5(join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')))
    assert.ok(existsSync(next), 'the block being written stays')
    assert.equal((await daemon.stop()).code, 0)
  })

  it('a failing stage is logged and does not stop the later stages, the flag attempt or the daemon', async () => {
    const host = sandbox.host('failing')
    // Campus is unreachable (nothing listens, host key known): both sending stages fail.
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const {port} = server.address() as AddressInfo
        server.close(() => resolve(port))
      })
    })
    const knownHostsFile = host.at('known_hosts')
    writeFileSync(knownHostsFile, readFileSync(sshd.host.knownHostsFile!, 'utf8').replaceAll(`]:${sshd.host.port} `, `]:${closedPort} `))
    const config = writeConfig(host, {hosts: {campus: {...sshd.host, port: closedPort, knownHostsFile}}, daemon: {rescanIntervalMinutes: 10}})
    mkdirSync(host.at('nas', 'rawacf_dmap'), {recursive: true})
    copyFileSync(join(BOREALIS, '20231004.1400.00.sas.a.rawacf.bz2'), host.at('nas', 'rawacf_dmap', '20231004.1400.00.sas.a.rawacf.bz2'))
    mkdirSync(host.at('cam'), {recursive: true})
    writeFileSync(host.at('cam', '20231004.1400.00.cam210.jpg'), 'photo')
    const daemon = spawnDaemon('site-linux', ['--role', 'site-linux', '--config', config])
    // The start-up reconcile finds the waiting file and runs the whole chain.
    const done = await daemon.waitFor(is('chain.done'), 60_000, 'the chain')
    const stages = done.stages as Array<{stage: string; error?: string}>
    assert.deepEqual(stages.map((s) => s.stage), ['plot-antennas-iq', 'rsync-to-campus', 'transfer-cam-photos'])
    assert.match(stages[1]!.error ?? '', /cannot open the ssh connection|unreachable|Connection refused/i)
    assert.match(stages[2]!.error ?? '', /cannot open the ssh connection|unreachable|Connection refused/i)
    assert.ok(daemon.events.some(is('flag.failed', (e) => e.retrying === false)), 'the flag send was tried and failed')
    assert.ok(existsSync(host.at('nas', 'rawacf_dmap', '20231004.1400.00.sas.a.rawacf.bz2')), 'the source is kept')
    // Still alive and still reacting.
    mkdirSync(host.at('site_watch'), {recursive: true})
    writeFileSync(host.at('site_watch', '.borealis_flag'), '')
    await daemon.waitFor(is('chain.start', (e) => Object.keys(e.reasons as object).includes('flag')), 20_000, 'a run for the flag')
    assert.equal((await daemon.stop()).code, 0)
  })

  describe('SIGTERM with a stage in flight', () => {
    /** site-linux sending one 1.6 MB file to campus at 200 KiB/s: about 8 s in flight. */
    async function slowTransfer(name: string, grace: string) {
      const host = sandbox.host(name)
      const config = writeConfig(host, {hosts: {campus: {...sshd.host, bandwidthLimitKBps: 200}}, daemon: {rescanIntervalMinutes: 10}})
      const source = host.at('nas', 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')
      mkdirSync(host.at('nas', 'rawacf_array'), {recursive: true})
      copyFileSync(join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5'), source)
      mkdirSync(host.at('cam'), {recursive: true})
      writeFileSync(host.at('cam', '20231004.1400.00.cam210.jpg'), 'photo')
      const holding = host.at('sddata', 'sas_holding_dir')
      const daemon = spawnDaemon(name, ['--role', 'site-linux', '--config', config, '--stop-grace', grace])
      await daemon.waitFor(is('transfer.start', (e) => e.file === source), 60_000, 'the transfer to start')
      // In flight: its first bytes are on campus.
      await eventually(() => bytesArriving(holding, basename(source)), 30_000, () => `no bytes of ${basename(source)} in ${holding}`)
      const exit = await daemon.stop(60_000)
      return {host, daemon, source, exit, holding}
    }

    it('within the grace: the file in flight is finished and verified, later stages wait, exit 0', async () => {
      const {daemon, source, exit, holding, host} = await slowTransfer('stop-graceful', '60')
      assert.deepEqual(exit, {code: 0, signal: null}, daemon.output())
      assert.equal(md5(join(holding, '20231004.1400.00.sas.0.rawacf.h5')), md5(join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')))
      assert.equal(existsSync(source), false, 'deleted after its copy verified')
      assert.ok(daemon.events.some(is('chain.stopped', (e) => (e.skipped as string[]).includes('transfer-cam-photos'))))
      assert.ok(existsSync(host.at('cam', '20231004.1400.00.cam210.jpg')), 'transfer-cam-photos did not start')
      assert.ok(!daemon.events.some(is('flag.sent')), 'no flag for an unfinished chain')
      assert.deepEqual(treeFiles(holding), ['20231004.1400.00.sas.0.rawacf.h5'])
    })

    it('past the grace: the transfer is aborted, its temp file removed, the source kept, exit 0', async () => {
      const {daemon, source, exit, holding} = await slowTransfer('stop-abort', '0.5')
      assert.deepEqual(exit, {code: 0, signal: null}, daemon.output())
      assert.ok(daemon.events.some(is('daemon.stopping', (e) => /grace .* over/.test(String(e.action)))))
      assert.equal(md5(source), md5(join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')), 'source untouched')
      assert.deepEqual(treeFiles(holding), [], 'no partial copy and no temp file on campus')
    })
  })

  it('under systemd: READY=1 once watching, WATCHDOG=1 while alive, STOPPING=1 on SIGTERM (real notify socket)', async () => {
    const host = sandbox.host('notify')
    const config = writeConfig(host)
    const socket = host.at('notify.sock')
    const messages = host.at('notify.txt')
    writeFileSync(messages, '')
    // systemd's own tool binds the datagram socket and hands it to a reader as fd 3.
    const reader = host.at('reader.cjs')
    writeFileSync(
      reader,
      `const fs = require('fs'); const buf = Buffer.alloc(65536)
for (;;) { let n; try { n = fs.readSync(3, buf, 0, buf.length, null) } catch (e) { if (e.code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); continue } throw e }
  fs.appendFileSync(process.argv[2], buf.subarray(0, n).toString().replace(/\\n/g, ' ') + '\\n') }`,
    )
    const listener = spawnListener(['systemd-socket-activate', '--datagram', '-l', socket, process.execPath, reader, messages])
    try {
      await eventually(() => existsSync(socket) || listener.failed !== null, 10_000, () => 'the notify socket')
      assert.equal(listener.failed, null, 'systemd-socket-activate (package systemd) must be installed')
      const daemon = spawnDaemon('campus', ['--role', 'campus', '--config', config], {NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000'})
      await daemon.waitFor(is('daemon.ready', (e) => e.notify === true && e.watchdogMs === 200), 30_000, 'ready under systemd')
      const lines = () => readFileSync(messages, 'utf8').split('\n')
      await eventually(() => lines().some((l) => l.startsWith('READY=1') && l.includes(`MAINPID=${daemon.pid}`)), 10_000, () => readFileSync(messages, 'utf8'))
      await eventually(() => lines().filter((l) => l.startsWith('WATCHDOG=1')).length >= 3, 10_000, () => readFileSync(messages, 'utf8'))
      assert.equal((await daemon.stop()).code, 0)
      await eventually(() => lines().some((l) => l.includes('STOPPING=1')), 10_000, () => readFileSync(messages, 'utf8'))
      assert.ok(!daemon.events.some(is('notify.failed')), 'every notification went through')
    } finally {
      listener.child.kill('SIGKILL')
    }
  })
})

/** The notify socket's listener (not a daemon under test). */
function spawnListener(argv: string[]): {child: ChildProcess; failed: Error | null} {
  const child = spawn(argv[0]!, argv.slice(1), {stdio: 'ignore'})
  const handle = {child, failed: null as Error | null}
  child.once('error', (error) => (handle.failed = error))
  return handle
}
