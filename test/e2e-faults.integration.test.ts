// End to end with faults: the three-daemon world of e2e-world.ts, and
// - the site-linux daemon killed with SIGKILL (with its children) in the middle of a transfer, then
//   started again;
// - sshd killed in the middle of a transfer and started again once the transfer has failed;
// - every flag lost (delivered where no daemon watches, so no daemon ever sees one).
// In each case every file must arrive, by a later trigger, the start-up reconcile or the rescan,
// and the end state must be exactly that of the fault-free run: nothing lost, nothing twice.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {basename} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {type DaemonEvent, killAllDaemons} from './daemon-process.js'
import {makeWorld, type World} from './e2e-world.js'
import {makeSandbox} from './helpers/hosts.js'
import {startSshd, type SshdHandle} from './helpers/sshd.js'
import {bytesArriving, eventually} from './helpers/wait.js'

const sandbox = makeSandbox('dataflow-e2e-faults-')
let sshd: SshdHandle
before(async () => {
  sshd = await startSshd()
})
after(async () => {
  killAllDaemons()
  await sshd?.stop()
  sandbox.cleanup()
})

const sendingToCampus = (e: DaemonEvent) => e.event === 'transfer.start' && e.stage === 'rsync-to-campus' && String(e.file).endsWith('.rawacf.h5')
const campusTransferFailed = (e: DaemonEvent) => e.event === 'chain.stage' && e.stage === 'rsync-to-campus' && (e.error !== undefined || Number(e.failed) > 0)

/** Resolves once the HDF5 file that `started` announced has its first bytes in campus's holding directory. */
async function bytesOnCampus(world: World, started: DaemonEvent): Promise<void> {
  const holding = world.hosts.campus.at('sddata', 'sas_holding_dir')
  const name = basename(String(started.file))
  await eventually(() => bytesArriving(holding, name), 60_000, () => `no bytes of ${name} in ${holding}`)
}

async function startAll(world: World): Promise<void> {
  for (const role of ['campus', 'site-linux', 'borealis'] as const) await world.start(role).waitFor((e) => e.event === 'daemon.ready', 30_000, 'ready')
}

describe('end to end with faults', () => {
  it('site-linux killed with SIGKILL mid-transfer and restarted: every file arrives once', async (t) => {
    // 1 MB/s to campus: a 1.6 MB file is in flight long enough to be cut.
    const world = makeWorld(sandbox, sshd, 'kill', {campusBandwidthKBps: 1000})
    await startAll(world)
    const started = world.dropFiles()
    const inFlight = await world.daemons['site-linux']!.waitFor(sendingToCampus, 120_000, 'an HDF5 transfer to campus')
    await bytesOnCampus(world, inFlight)
    // Returns once the daemon and all it started (ssh, rsync) are gone.
    await world.daemons['site-linux']!.crash()
    const killed = world.daemons['site-linux']!
    assert.ok(!killed.events.some((e) => e.event === 'transfer.verified' && e.file === inFlight.file), 'killed while the file was in flight')
    // As systemd would (Restart=on-failure): a new process, which takes over the stale locks.
    await world.start('site-linux').waitFor((e) => e.event === 'daemon.ready', 30_000, 'ready after the crash')
    await world.waitForFlow(180_000)
    t.diagnostic(`kill: all files on campus ${((Date.now() - started) / 1000).toFixed(1)} s after they were written`)
    await world.stopAll()
    await world.verify()
  })

  it('sshd killed mid-transfer and restarted once the transfer has failed: every file arrives once', async (t) => {
    const world = makeWorld(sandbox, sshd, 'sshd', {campusBandwidthKBps: 1000})
    await startAll(world)
    const started = world.dropFiles()
    const site = world.daemons['site-linux']!
    await bytesOnCampus(world, await site.waitFor(sendingToCampus, 120_000, 'an HDF5 transfer to campus'))
    await sshd.kill()
    // Down until the cut has failed the stage (retries included): the files must then come by a later run.
    await site.waitFor(campusTransferFailed, 60_000, 'the cut to fail a transfer to campus')
    await sshd.restart()
    await world.waitForFlow(180_000)
    t.diagnostic(`sshd: all files on campus ${((Date.now() - started) / 1000).toFixed(1)} s after they were written`)
    await world.stopAll()
    await world.verify()
  })

  it('every flag lost (no daemon ever sees one): the rescans carry every file through', async (t) => {
    const world = makeWorld(sandbox, sshd, 'lost', {loseFlags: true})
    await startAll(world)
    const started = world.dropFiles()
    await world.waitForFlow(180_000)
    t.diagnostic(`lost flags: all files on campus ${((Date.now() - started) / 1000).toFixed(1)} s after they were written`)
    await world.stopAll()
    // The flags were sent — to where nobody watches.
    assert.ok(existsSync(world.hosts['site-linux'].at('lost_flags', '.borealis_flag')))
    assert.ok(existsSync(world.hosts.campus.at('lost_flags', '.site-linux_flag_sas')))
    for (const role of ['site-linux', 'campus'] as const) {
      const daemon = world.daemons[role]!
      assert.deepEqual(daemon.events.filter((e) => e.event === 'trigger.received'), [], `${role} never saw a flag`)
      assert.ok(daemon.events.some((e) => e.event === 'rescan.work'), `${role} ran its chain from a rescan`)
    }
    await world.verify()
  })
})
