import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {after, describe, it} from 'node:test'

import {createEventLog} from '../src/lib/log/events.js'
import {mainLogPath, RULE, SummaryLog, summaryPath, versionLine} from '../src/lib/log/summary.js'
import {STAGES} from '../src/lib/stages/specs.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())
const build = {version: '0.1.0', commit: 'abc1234', date: new Date('2026-11-01T12:34:56Z')}

describe('summary log (the original layout)', () => {
  it('uses the original file names, with the UTC date for directory and file (summary-date-mixed fixed)', () => {
    // 23:30 on Oct 31 UTC is Nov 1 in UTC+1: both parts must say October.
    const t = new Date('2026-10-31T23:30:00Z')
    assert.equal(summaryPath('/L', STAGES['rsync-to-nas'], t, 'sas'), '/L/rsync_to_nas/summary/2026/10/20261031.rsync_to_nas_summary.log')
    assert.equal(
      summaryPath('/L', STAGES['distribute-borealis-data'], t, 'sas'),
      '/L/distribute_borealis_data/summary/2026/10/sas.20261031.distribute_borealis_data_summary.log',
    )
    assert.equal(summaryPath('/L', STAGES['archive-iq-plots'], t, 'sas'), '/L/archive_iq/summary/2026/10/sas.20261031.archive_iq.log')
    assert.equal(mainLogPath('/L', STAGES['convert-on-campus'], t, 'pgr'), '/L/convert_on_campus/2026/10/pgr.20261031.convert_on_campus.log')
  })

  it('writes the header, lines and footer in the exact layout', () => {
    const times = [new Date('2026-11-23T10:00:00Z'), new Date('2026-11-23T10:00:01Z'), new Date('2026-11-23T10:05:09Z')]
    let i = 0
    const summary = new SummaryLog({
      stage: STAGES['distribute-borealis-data'],
      logRoot: sandbox.dir,
      radar: 'sas',
      invokedAs: '/usr/local/bin/dataflow distribute-borealis-data',
      host: 'sdc-serv',
      build,
      now: () => times[Math.min(i++, times.length - 1)]!,
    })
    summary.header()
    summary.line('Distributing from: /sddata/sas_data')
    summary.line('File distribution successful: /sddata/sas_data/100%\\x.rawacf.bz2')
    summary.footer()
    const text = readFileSync(summary.path, 'utf8')
    assert.equal(
      text,
      [
        RULE,
        '',
        'Executing /usr/local/bin/dataflow distribute-borealis-data on sdc-serv for sas',
        '20261123 10:00:01 UTC',
        'data_flow: On branch dataflow-0.1.0, last commit: \t\tabc1234 2026-11-01 12:34:56 +0000',
        'pyDARNio: On branch dataflow-0.1.0, last commit: \t\tabc1234 2026-11-01 12:34:56 +0000',
        'Distributing from: /sddata/sas_data',
        'File distribution successful: /sddata/sas_data/100%\\x.rawacf.bz2',
        '',
        'Finished distribute_borealis_data. End time: 20261123 10:05:09 UTC',
        '',
        '',
      ].join('\n'),
    )
    assert.equal(RULE.length, 80)
  })

  it('the version line parses the way the telemetry parser reads it', () => {
    const tokens = versionLine('data_flow', build).split(/\s+/)
    assert.equal(tokens.at(-7)!.slice(0, -1), 'dataflow-0.1.0')
    assert.equal(`${tokens.at(-3)} ${tokens.at(-2)}`, '2026-11-01 12:34:56')
  })

  it('dry runs keep the lines in memory only', () => {
    const summary = new SummaryLog({stage: STAGES['rsync-to-nas'], logRoot: sandbox.host('dry').root, radar: 'sas', invokedAs: 'x', host: 'h', build, write: false})
    summary.header()
    assert.equal(summary.lines.length, 5)
    assert.throws(() => readFileSync(summary.path))
  })
})

describe('event log', () => {
  it('writes one JSON line per typed event with bindings, never the webhook', () => {
    const file = sandbox.host('events').at('logs', 'x.log')
    const log = createEventLog({level: 'info', bindings: {stage: 'rsync-to-nas', radar: 'sas'}, file, terminalFd: null})
    log.event('file.detected', {file: '/d/a.h5'})
    log.child({file: '/d/b.h5'}).event('transfer.verified', {hash: 'abc', webhookUrl: 'https://hooks.slack.com/SECRET'})
    log.event('debug.hidden' as 'file.detected', {}, 'debug')
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.equal(lines.length, 2)
    assert.equal(lines[0]!.event, 'file.detected')
    assert.equal(lines[0]!.stage, 'rsync-to-nas')
    assert.equal(lines[0]!.level, 'info')
    assert.equal(lines[1]!.file, '/d/b.h5')
    assert.doesNotMatch(JSON.stringify(lines), /SECRET/)
  })
})
