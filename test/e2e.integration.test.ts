// End to end: three daemons as separate processes with separate configs and
// directory roots, connected through a real sshd. Fixture files written into the borealis data
// directory (with the next block's first file as trigger) must end up converted, distributed,
// archived and plotted on "campus", every source removed only after a verified copy; any missing
// or differing file fails the test. The fault variants are in e2e-faults.integration.test.ts.
import {after, before, it} from 'node:test'

import {killAllDaemons} from './daemon-process.js'
import {makeWorld} from './e2e-world.js'
import {makeSandbox} from './helpers/hosts.js'
import {startSshd, type SshdHandle} from './helpers/sshd.js'

const sandbox = makeSandbox('dataflow-e2e-')
let sshd: SshdHandle
before(async () => {
  sshd = await startSshd()
})
after(async () => {
  killAllDaemons()
  await sshd?.stop()
  sandbox.cleanup()
})

it('borealis → site-linux → campus: every file arrives converted, distributed, archived and plotted', async (t) => {
  const world = makeWorld(sandbox, sshd, 'flow')
  for (const role of ['campus', 'site-linux', 'borealis'] as const) await world.start(role).waitFor((e) => e.event === 'daemon.ready', 30_000, 'ready')
  const started = world.dropFiles()
  await world.waitForFlow(180_000)
  const seconds = (Date.now() - started) / 1000
  await world.stopAll()
  await world.verify()
  t.diagnostic(`e2e: all files on campus ${seconds.toFixed(1)} s after they were written`)
})
