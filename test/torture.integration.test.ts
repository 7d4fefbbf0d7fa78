// The short torture run inside `npm test` (the full one is `npm run torture`): a clean calibration
// run and SIGKILL trials per stage, every fault scenario once, hostile names for two stages, all
// against real rsync, ssh, sshd, tmpfs and mount namespaces (test/torture/). Every invariant is
// asserted as it is: a violation found in src/ fails this test, with the trial lines saying which
// file and how, and the seed to replay it with `npm run torture -- --seed S`.
import assert from 'node:assert/strict'
import {before, describe, it} from 'node:test'

import {SHORT} from './torture/short.js'
import {runSuite, type SuiteResult} from './torture/trials.js'
import {STAGE_KINDS} from './torture/world.js'

const seed = Number(process.env.TORTURE_SEED ?? Math.floor(Math.random() * 2 ** 31))
let result: SuiteResult
const lines: string[] = []

describe('torture (short): SIGKILL, faults and hostile names against the no-loss invariant', {timeout: 300_000}, () => {
  before(async () => {
    assert.equal(process.getuid?.(), 0, 'the torture suite runs as root (mount namespaces, chattr +i, a stage run as nobody)')
    result = await runSuite({
      seed,
      killTrials: SHORT.killTrials,
      stages: STAGE_KINDS,
      faults: SHORT.faults,
      hostile: true,
      hostileStages: SHORT.hostileStages,
      jobs: 2,
      log: (line) => lines.push(line),
    })
  })

  const report = () => `seed ${seed} (replay: npm run torture -- --short --seed ${seed})\n${lines.join('\n')}`
  const offending = (key: 'lost' | 'corrupt' | 'partial_visible' | 'deleted_unverified' | 'not_delivered') =>
    result.trials.filter((t) => t.violations[key].length > 0).flatMap((t) => [t.line, ...t.violations[key].map((v) => `  ${v}`)])

  it('ran every kind of trial and printed the closing line', (t) => {
    for (const line of lines) t.diagnostic(line)
    assert.match(result.finalLine, /^trials=\d+ lost=\d+ corrupt=\d+ partial_visible=\d+ deleted_unverified=\d+$/)
    // A trial whose stage finished before its kill instant is replaced by another, so there may be more.
    assert.ok(result.trials.filter((x) => x.type === 'kill').length >= SHORT.killTrials, report())
    assert.ok(result.counts.killed > 0, `no trial was actually killed\n${report()}`)
    assert.equal(result.trials.filter((x) => x.type === 'fault').length, SHORT.faults.length)
  })

  for (const key of ['lost', 'corrupt', 'partial_visible', 'deleted_unverified'] as const) {
    it(`${key}=0`, () => assert.deepEqual(offending(key), [], report()))
  }

  it('after the clean re-run every good input is at all its final places', () => assert.deepEqual(offending('not_delivered'), [], report()))

  it('every fault is noticed: non-zero exit and a line naming the cause', () => {
    const failures = result.trials.flatMap((t) => (t.expectationFailures ?? []).map((e) => `${t.id}: ${e}`))
    assert.deepEqual(failures, [], report())
  })
})
