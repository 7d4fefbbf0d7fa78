// Units of the daemon: the coalescing scheduler, the watcher on real inotify (and its polling
// fallback), flag delivery and the systemd-notify argv. Real temp directories, real inotify.
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {defaultConfig} from '../src/lib/config/schema.js'
import {ChainScheduler, type Batch} from '../src/lib/daemon/coalesce.js'
import {newerTrigger} from '../src/lib/daemon/daemon.js'
import {consumeFlag, flagRsyncArgv, sendFlag} from '../src/lib/daemon/flags.js'
import {resolveRoleLayout} from '../src/roles/layout.js'
import {notifyArgv, systemdNotifier} from '../src/lib/daemon/notify.js'
import {type FileEventKind, networkFileSystemName, pollReasonFor, type Watcher, watchDirectory, type WatchSpec} from '../src/lib/daemon/watch.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox('dataflow-daemon-unit-')
after(() => sandbox.cleanup())

// Fixed delays here are what is under test (the scheduler's timers: a follow-up fires after its
// delay, a cancelled one never does) or simulated stage work; waits for events use until().
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves when `check` holds, polling every 10 ms; rejects after `ms`. */
async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(10)
  }
}

describe('ChainScheduler: triggers during a run coalesce into exactly one more run', () => {
  it('runs once for a trigger, and once more for any number of triggers that arrive during the run', async () => {
    const runs: Array<{batch: Batch<string>; started: number}> = []
    let release = () => {}
    const scheduler = new ChainScheduler<string>({
      run: async (batch) => {
        runs.push({batch, started: Date.now()})
        await new Promise<void>((resolve) => (release = resolve))
      },
    })
    assert.equal(scheduler.request('flag'), 'started')
    await until(() => runs.length === 1)
    const requested: number[] = []
    const outcomes = []
    for (let i = 0; i < 50; i++) {
      requested.push(Date.now())
      outcomes.push(scheduler.request('flag'))
    }
    assert.equal(outcomes[0], 'queued')
    assert.ok(outcomes.slice(1).every((o) => o === 'coalesced'), 'the rest join the one pending run')
    assert.equal(runs.length, 1, 'no second run while the first is in progress')
    release()
    await until(() => runs.length === 2)
    assert.equal(runs[1]!.batch.reasons.length, 50)
    assert.ok(runs[1]!.started >= Math.max(...requested), 'the extra run starts after the last trigger')
    release()
    await scheduler.settled()
    assert.equal(runs.length, 2, 'fifty triggers during a run cost one extra run, not fifty')
    assert.ok(scheduler.idle)
  })

  it('never drops a trigger: each one is followed by a run that started after it', async () => {
    const starts: number[] = []
    const scheduler = new ChainScheduler({
      run: async () => {
        starts.push(Date.now())
        await delay(5 + Math.random() * 10)
      },
    })
    const requests: number[] = []
    for (let i = 0; i < 40; i++) {
      requests.push(Date.now())
      scheduler.request('x')
      await delay(Math.random() * 12)
    }
    await scheduler.settled()
    for (const at of requests) assert.ok(starts.some((s) => s >= at), `a run started after the trigger at ${at}`)
    assert.ok(starts.length < requests.length, `coalesced: ${starts.length} runs for ${requests.length} triggers`)
  })

  it('merges payloads (the newest Borealis block wins) and keeps running after a failed run', async () => {
    const seen: Array<string | undefined> = []
    const errors: unknown[] = []
    let first = true
    const scheduler = new ChainScheduler<string>({
      run: async (batch) => {
        seen.push(batch.payload)
        if (first) {
          first = false
          await delay(30)
          throw new Error('stage blew up')
        }
      },
      merge: newerTrigger,
      onError: (error) => errors.push(error),
    })
    scheduler.request('new-file', '/d/20231004.1400.00.sas.0.rawacf.h5')
    scheduler.request('new-file', '/d/20231004.1600.00.sas.0.rawacf.h5')
    scheduler.request('new-file', '/d/20231004.1200.00.sas.0.rawacf.h5')
    scheduler.request('rescan')
    await scheduler.settled()
    assert.deepEqual(seen, ['/d/20231004.1400.00.sas.0.rawacf.h5', '/d/20231004.1600.00.sas.0.rawacf.h5'])
    assert.equal(errors.length, 1)
  })

  it('requestLater keeps one follow-up per key, after the last request; stop() cancels it and reports a dropped run', async () => {
    let runs = 0
    const scheduler = new ChainScheduler({run: async () => void runs++})
    scheduler.requestLater('settle', 60, 'settle')
    await delay(30)
    scheduler.requestLater('settle', 60, 'settle')
    await delay(45)
    assert.equal(runs, 0, 'the first timer was replaced')
    await until(() => runs === 1, 1000)
    await delay(80)
    assert.equal(runs, 1)

    let release = () => {}
    const blocking = new ChainScheduler({run: () => new Promise<void>((resolve) => (release = resolve))})
    blocking.request('flag')
    blocking.request('flag')
    blocking.requestLater('settle', 10, 'settle')
    const stopped = blocking.stop()
    assert.equal(blocking.request('late'), 'refused')
    release()
    assert.deepEqual(await stopped, ['flag'])
    await delay(30)
  })
})

describe('watchDirectory (real inotify)', () => {
  const watchers: Watcher[] = []
  after(() => watchers.forEach((w) => w.close()))

  function collect(spec: Omit<WatchSpec, 'dir'>, dir: string, forcePoll = false) {
    const files: Array<{path: string; kind: FileEventKind}> = []
    const problems: string[] = []
    let overflows = 0
    const started = watchDirectory(
      {...spec, dir},
      {file: (path, kind) => files.push({path, kind}), overflow: () => overflows++, problem: (message) => problems.push(message)},
      {forcePoll, pollIntervalMs: 50},
    ).then((w) => {
      watchers.push(w)
      return w
    })
    return {files, problems, overflows: () => overflows, started}
  }

  it('borealis: IN_CREATE of *.h5/*.rawacf in the whole tree; new subdirectories get watches; hidden and skipped ones do not', async () => {
    const dir = sandbox.host('watch-tree').at('data')
    mkdirSync(join(dir, 'old'), {recursive: true})
    mkdirSync(join(dir, 'quarantine'), {recursive: true})
    const w = collect({recursive: true, events: ['create'], accept: (n) => /\.(h5|rawacf)$/.test(n), skipDirectory: (p) => p === join(dir, 'quarantine')}, dir)
    const watcher = await w.started
    assert.equal(watcher.mode, 'inotify')
    writeFileSync(join(dir, '20231004.1400.00.sas.0.rawacf.h5'), 'x')
    writeFileSync(join(dir, 'notes.txt'), 'x')
    writeFileSync(join(dir, 'old', '20231004.1200.00.sas.a.rawacf'), 'x')
    writeFileSync(join(dir, 'quarantine', '20231004.1000.00.sas.0.rawacf.h5'), 'x')
    // A directory created with a file already in it before its watch exists: the file is reported.
    mkdirSync(join(dir, 'new', 'deeper'), {recursive: true})
    writeFileSync(join(dir, 'new', 'deeper', '20231004.1600.00.sas.0.antennas_iq.h5'), 'x')
    mkdirSync(join(dir, '.hidden'))
    writeFileSync(join(dir, '.hidden', 'x.h5'), 'x')
    await until(() => new Set(w.files.map((f) => f.path)).size >= 3, 3000, 'three create events')
    // The late subdirectory may be reported by its walk and by its own watch: a trigger twice is harmless.
    const paths = [...new Set(w.files.map((f) => f.path))].sort()
    assert.deepEqual(paths, [
      join(dir, '20231004.1400.00.sas.0.rawacf.h5'),
      join(dir, 'new', 'deeper', '20231004.1600.00.sas.0.antennas_iq.h5'),
      join(dir, 'old', '20231004.1200.00.sas.a.rawacf'),
    ])
    assert.ok(w.files.every((f) => f.kind === 'create'))
    // Files inside an already-watched subdirectory are seen later too.
    writeFileSync(join(dir, 'new', 'deeper', '20231004.1800.00.sas.0.rawacf.h5'), 'x')
    await until(() => w.files.some((f) => f.path.endsWith('1800.00.sas.0.rawacf.h5')), 3000, 'event in the new subdirectory')
    assert.deepEqual(w.problems, [])
  })

  it('flags: IN_MOVED_TO (rsync\'s rename) and IN_CLOSE_WRITE count, the temp file\'s create does not', async () => {
    const dir = sandbox.host('watch-flags').at('watch')
    mkdirSync(dir, {recursive: true})
    const w = collect({recursive: false, events: ['moved-to', 'close-write'], accept: (n) => n.endsWith('.borealis_flag')}, dir)
    await w.started
    writeFileSync(join(dir, '.borealis_flag.Xy12Ab'), '')
    renameSync(join(dir, '.borealis_flag.Xy12Ab'), join(dir, '.borealis_flag'))
    await until(() => w.files.length === 1, 3000, 'moved-to')
    assert.deepEqual(w.files[0], {path: join(dir, '.borealis_flag'), kind: 'moved-to'})
    rmSync(join(dir, '.borealis_flag'))
    writeFileSync(join(dir, '.borealis_flag'), '')
    await until(() => w.files.length === 2, 3000, 'close-write')
    assert.equal(w.files[1]!.kind, 'close-write')
    writeFileSync(join(dir, '.site-linux_flag_sas'), '')
    // inotify delivers in order: once a later flag of ours is seen, the other one was not reported.
    renameSync(join(dir, '.borealis_flag'), join(dir, '.borealis_flag.tmp'))
    renameSync(join(dir, '.borealis_flag.tmp'), join(dir, '.borealis_flag'))
    await until(() => w.files.length === 3, 3000, 'the sentinel flag')
    assert.ok(w.files.every((f) => f.path.endsWith('/.borealis_flag')), 'another flag is not ours')
  })

  it('reports IN_Q_OVERFLOW when the kernel queue overflows (fs.inotify.max_queued_events = 16)', async () => {
    const dir = sandbox.host('watch-overflow').at('data')
    mkdirSync(dir, {recursive: true})
    const limit = '/proc/sys/fs/inotify/max_queued_events'
    const saved = readFileSync(limit, 'utf8').trim()
    let w: ReturnType<typeof collect>
    // The limit applies to inotify instances created while it is set: restore it at once.
    writeFileSync(limit, '16')
    try {
      w = collect({recursive: true, events: ['create'], accept: () => true}, dir)
      await w.started
    } finally {
      writeFileSync(limit, saved)
    }
    // Synchronous writes: the event loop cannot read the queue meanwhile.
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, `f${i}.h5`), 'x')
    await until(() => w.overflows() === 1, 3000, 'overflow')
    assert.ok(w.files.length <= 16, `at most the queue's 16 events arrived (${w.files.length})`)
  })

  it('polls instead when asked (as on NFS/CIFS): new and replaced files, not the ones already there', async () => {
    const dir = sandbox.host('watch-poll').at('data')
    mkdirSync(join(dir, 'sub'), {recursive: true})
    writeFileSync(join(dir, 'before.h5'), 'x')
    const w = collect({recursive: true, events: ['create'], accept: (n) => n.endsWith('.h5')}, dir, true)
    const watcher = await w.started
    assert.equal(watcher.mode, 'poll')
    assert.match(watcher.pollReason!, /--poll/)
    writeFileSync(join(dir, 'sub', 'new.h5'), 'x')
    await until(() => w.files.length === 1, 3000, 'poll sees the new file')
    assert.deepEqual(w.files[0], {path: join(dir, 'sub', 'new.h5'), kind: 'poll'})
    writeFileSync(join(dir, 'tmp'), 'y')
    renameSync(join(dir, 'tmp'), join(dir, 'before.h5'))
    await until(() => w.files.length === 2, 3000, 'poll sees the replaced file')
    assert.equal(w.files[1]!.path, join(dir, 'before.h5'))
  })

  it('knows which file systems inotify cannot see into', async () => {
    assert.equal(networkFileSystemName(0x6969), 'nfs')
    assert.equal(networkFileSystemName(0xff534d42), 'cifs')
    assert.equal(networkFileSystemName(-11317950), 'cifs', 'sign-extended f_type')
    assert.equal(networkFileSystemName(0xfe534d42), 'smb2')
    assert.equal(networkFileSystemName(0xef53), null, 'ext4')
    assert.equal(networkFileSystemName(0x01021994), null, 'tmpfs')
    assert.equal(await pollReasonFor(sandbox.dir), null, 'the sandbox is on a local file system')
  })

  it('refuses a directory that does not exist', async () => {
    await assert.rejects(
      watchDirectory({dir: sandbox.host('watch-missing').at('nope'), recursive: false, events: ['create'], accept: () => true}, {file() {}, overflow() {}, problem() {}}, {pollIntervalMs: 50}),
      /cannot watch .*nope.*ENOENT|no such file/i,
    )
  })
})

describe('flags', () => {
  const config = defaultConfig()

  it('routes the original flags to the original directories', () => {
    const site = {...config, hosts: {...config.hosts, campus: {target: 'dataman@sdc-serv', port: 22, bandwidthLimitKBps: 0}}}
    const borealis = resolveRoleLayout(config, 'borealis', 'sas', {home: '/home/radar'}).outgoing!
    assert.equal(borealis.name, '.borealis_flag')
    assert.equal(borealis.localDirectory, '/home/radar/data_flow/.inotify_flags')
    assert.equal(borealis.destinationDirectory, '/home/transfer/data_flow/.inotify_watchdir')
    assert.equal(borealis.host, null, 'hosts.siteLinux unset: this machine')
    const toCampus = resolveRoleLayout(site, 'site-linux', 'sas', {home: '/home/transfer'}).outgoing!
    assert.equal(toCampus.name, '.site-linux_flag_sas')
    assert.equal(toCampus.destinationDirectory, '/home/dataman/data_flow/.inotify_watchdir')
    assert.equal(toCampus.host?.target, 'dataman@sdc-serv')
    assert.equal(resolveRoleLayout(config, 'campus', 'sas').outgoing, null, 'campus sends nothing (its flag had no receiver)')
    // `~/` on the receiving host is its user's home: a relative rsync path.
    const tilde = {...site, campus: {...site.campus, watchDirectory: '~/data_flow/.inotify_watchdir'}}
    assert.equal(resolveRoleLayout(tilde, 'site-linux', 'sas', {home: '/home/transfer'}).outgoing!.destinationDirectory, 'data_flow/.inotify_watchdir')

    const campus = resolveRoleLayout(config, 'campus', 'pgr', {home: '/home/dataman'})
    assert.equal(campus.incoming!.directory, '/home/dataman/data_flow/.inotify_watchdir')
    assert.equal(campus.watch.dir, campus.incoming!.directory)
    assert.ok(campus.watch.accept('.site-linux_flag_pgr'))
    assert.ok(!campus.watch.accept('.site-linux_flag_sas'))
    assert.ok(!campus.watch.accept('.site-linux_flag_pgr.a1B2c3'), "rsync's temp name")
    assert.equal(resolveRoleLayout(config, 'borealis', 'sas').incoming, null)
  })

  it('sends over ssh with rsync: host key pinned, timeout, temp name + rename even when the flag is still there', () => {
    const host = {target: 'transfer@site-linux', port: 2222, identityFile: '/k/id', knownHostsFile: '/k/known_hosts', bandwidthLimitKBps: 0}
    const argv = flagRsyncArgv({name: '.borealis_flag', localDirectory: '/f', destinationDirectory: '/w/', host, hostKey: 'hosts.siteLinux'}, '/f/.borealis_flag', config.timeouts)
    assert.deepEqual(argv.slice(0, 7), ['rsync', '--protect-args', '--ignore-times', '--times', '--mkpath', '--timeout=180', '-e'])
    assert.match(argv[7]!, /^ssh -p 2222 -i \/k\/id .*BatchMode=yes .*StrictHostKeyChecking=yes .*UserKnownHostsFile=\/k\/known_hosts .*ConnectTimeout=15/)
    assert.deepEqual(argv.slice(8), ['--', '/f/.borealis_flag', 'transfer@site-linux:/w/'])
    assert.ok(!argv.includes('--inplace'), 'never in place: the receiver must see a rename')
  })

  it('delivers locally by a rename (IN_MOVED_TO), replacing an unconsumed flag; consumeFlag removes it', async () => {
    const host = sandbox.host('flag-local')
    const watch = host.at('watch')
    mkdirSync(watch, {recursive: true})
    const route = {name: '.borealis_flag', localDirectory: host.at('flags'), destinationDirectory: watch, host: null, hostKey: 'hosts.siteLinux'}
    const kinds: FileEventKind[] = []
    const watcher = await watchDirectory(
      {dir: watch, recursive: false, events: ['moved-to', 'create'], accept: (n) => n === '.borealis_flag'},
      {file: (_path, kind) => kinds.push(kind), overflow() {}, problem() {}},
      {pollIntervalMs: 50},
    )
    try {
      assert.equal(await sendFlag(route, {settings: config}), join(watch, '.borealis_flag'))
      await sendFlag(route, {settings: config})
      await until(() => kinds.length === 2, 3000, 'two flag events')
      assert.deepEqual(kinds, ['moved-to', 'moved-to'])
      assert.equal(readFileSync(join(host.at('flags'), '.borealis_flag'), 'utf8'), '', 'touched locally first')
      assert.equal(await consumeFlag(watch, '.borealis_flag'), true)
      assert.equal(await consumeFlag(watch, '.borealis_flag'), false)
    } finally {
      watcher.close()
    }
  })
})

describe('systemd notify', () => {
  it('builds the systemd-notify argv; does nothing outside systemd', async () => {
    assert.deepEqual(notifyArgv('ready', 'watching /data', 42), ['systemd-notify', '--ready', 'MAINPID=42', '--status=watching /data'])
    assert.deepEqual(notifyArgv('watchdog'), ['systemd-notify', 'WATCHDOG=1'])
    assert.deepEqual(notifyArgv('stopping', 'bye\nnow'), ['systemd-notify', 'STOPPING=1', '--status=bye now'])
    const off = systemdNotifier({env: {}})
    assert.equal(off.enabled, false)
    assert.equal(off.watchdogIntervalMs, null)
    await off.ready('x')
    const on = systemdNotifier({env: {NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000'}})
    assert.equal(on.watchdogIntervalMs, 15_000, 'half of WatchdogSec')
    assert.equal(systemdNotifier({env: {NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1'}}).watchdogIntervalMs, null, 'not our watchdog')
  })
})
