// A daemon runs for months: every rescan, stage run and watch must give back what it opens. An
// idle campus daemon (real inotify, real stage probes) is rescanned 1 000 times; the number of
// open descriptors of this process (/proc/self/fd) must not grow.
import assert from 'node:assert/strict'
import {mkdirSync, readdirSync} from 'node:fs'
import {after, it} from 'node:test'

import {ConfigSchema} from '../src/lib/config/schema.js'
import {startDaemon} from '../src/lib/daemon/daemon.js'
import {daemonPlan} from '../src/roles/daemon-plan.js'
import {resolveRoleLayout} from '../src/roles/layout.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())
const openDescriptors = () => readdirSync('/proc/self/fd').length

it('1 000 idle rescans of a campus daemon leave the open-descriptor count flat', async () => {
  const h = sandbox.host('campus')
  const config = ConfigSchema.parse({
    logging: {directory: h.at('logs')},
    state: {directory: h.at('state')},
    campus: {
      dataDirectory: h.at('sddata', '{radar}_data'),
      holdingDirectory: h.at('sddata', '{radar}_holding_dir'),
      conversionFailureDirectory: h.at('failure'),
      specialExperimentsDirectory: h.at('special'),
      archiveRoot: h.at('archive'),
      plotsDirectory: h.at('plots'),
      plotsArchiveDirectory: h.at('plots', 'archive'),
      staging: [],
      watchDirectory: h.at('watch'),
    },
  })
  const layout = resolveRoleLayout(config, 'campus', 'sas', {home: h.home})
  for (const dir of layout.writes) mkdirSync(dir, {recursive: true})
  const controller = new AbortController()
  const daemon = await startDaemon({plan: daemonPlan(layout), signal: controller.signal, stopGraceMs: 1000, pollIntervalMs: 1000, terminalFd: null})
  try {
    for (let i = 0; i < 20; i++) await daemon.rescan() // warm-up: modules loaded, pools filled
    const before = openDescriptors()
    for (let i = 0; i < 1000; i++) await daemon.rescan()
    const afterRescans = openDescriptors()
    assert.ok(afterRescans - before <= 2, `descriptors went from ${before} to ${afterRescans} over 1 000 rescans`)
  } finally {
    controller.abort('test done')
    await daemon.done
  }
})
