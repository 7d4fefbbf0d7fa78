// runStage against real parts: summary pushed over a real sshd on 127.0.0.1, alerts posted to a
// real HTTP server on 127.0.0.1, lock files on disk.
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {ConfigSchema, type Config} from '../src/lib/config/schema.js'
import {InterruptedError, LockedError, PartialFailureError} from '../src/lib/errors.js'
import {acquireLock} from '../src/lib/lock.js'
import {runStage} from '../src/lib/stages/runner.js'
import {STAGES} from '../src/lib/stages/specs.js'
import {resolveRoleLayout} from '../src/roles/layout.js'
import {makeSandbox} from './helpers/hosts.js'
import {startSshd, type SshdHandle} from './helpers/sshd.js'

const sandbox = makeSandbox()
let sshd: SshdHandle
let slack: Server
const alerts: string[] = []

before(async () => {
  sshd = await startSshd()
  slack = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      alerts.push(body)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve))
})
after(async () => {
  await sshd?.stop()
  await new Promise((resolve) => slack?.close(resolve))
  sandbox.cleanup()
})

function config(host: string): Config {
  const site = sandbox.host(host)
  const telemetry = sandbox.host('telemetry')
  return ConfigSchema.parse({
    radar: 'sas',
    logging: {directory: site.at('logs')},
    state: {directory: site.at('state')},
    hosts: {telemetry: sshd.host},
    telemetry: {directory: telemetry.at('data_flow_logs')},
    alerts: {slackWebhook: `http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T/B/SECRET`},
    timeouts: {sshConnectSeconds: 5, telemetrySeconds: 30},
  })
}

const runtimeOf = (cfg: Config) => resolveRoleLayout(cfg, 'campus', 'sas').runtime

describe('runStage with a real sshd and a real webhook server', () => {
  it('writes the summary, the JSON event log, and pushes the summary to telemetry over ssh', async () => {
    const cfg = config('borealis')
    const result = await runStage(STAGES['rsync-to-nas'], {runtime: runtimeOf(cfg), dryRun: false, terminalFd: null}, async ({summary, log}) => {
      summary.line('Transferring from: /data/borealis_data')
      log.event('file.detected', {file: '/data/borealis_data/x.h5'})
      return {succeeded: 1, failed: 0}
    })
    assert.equal(result.telemetry?.ok, true, JSON.stringify(result.telemetry))
    const summaryText = readFileSync(result.summaryFile!, 'utf8')
    assert.match(summaryText, /^#{80}\n\nExecuting .* on .* for sas\n\d{8} \d\d:\d\d:\d\d UTC\ndata_flow: On branch dataflow-/)
    assert.match(summaryText, /Transferring from: \/data\/borealis_data\n\nFinished rsync_to_nas\. End time: \d{8} \d\d:\d\d:\d\d UTC\n\n$/)
    const pushed = join(sandbox.host('telemetry').at('data_flow_logs', 'sas', 'rsync_to_nas'), result.summaryFile!.split('/').at(-1)!)
    assert.equal(readFileSync(pushed, 'utf8'), summaryText)
    const logDir = sandbox.host('borealis').at('logs', 'rsync_to_nas')
    const year = readdirSync(logDir).find((d) => /^\d{4}$/.test(d))!
    const month = readdirSync(join(logDir, year))[0]!
    const events = readFileSync(join(logDir, year, month, readdirSync(join(logDir, year, month))[0]!), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {event: string; stage: string})
    assert.deepEqual(events.map((e) => e.event), ['stage.start', 'file.detected', 'stage.done', 'telemetry.pushed'])
    assert.ok(events.every((e) => e.stage === 'rsync-to-nas'))
    assert.equal(existsSync(join(cfg.state.directory, 'locks', 'rsync-to-nas.sas.lock')), false, 'lock released')
  })

  it('a failing stage is alerted once (valid JSON, no webhook in logs), footer written, error rethrown', async () => {
    const cfg = config('campus')
    alerts.length = 0
    await assert.rejects(
      runStage(STAGES['convert-on-campus'], {runtime: runtimeOf(cfg), dryRun: false, terminalFd: null}, async () => {
        throw new PartialFailureError('2 files failed "to convert"')
      }),
      PartialFailureError,
    )
    assert.equal(alerts.length, 1)
    const text = (JSON.parse(alerts[0]!) as {text: string}).text
    assert.match(text, /^\d{8} \d\d:\d\d:\d\d {3}sas - convert_on_campus failed: 2 files failed "to convert"$/)
    const logs = sandbox.host('campus').at('logs')
    const all = readdirSync(logs, {recursive: true}).map(String).filter((f) => f.endsWith('.log'))
    assert.ok(all.some((f) => f.includes('summary/') && f.endsWith('sas.' + f.split('sas.')[1])))
    for (const f of all) assert.doesNotMatch(readFileSync(join(logs, f), 'utf8'), /SECRET/)
  })

  it('a stop request (SIGTERM) that ends a stage is not a failure: no alert, stage.interrupted, InterruptedError, lock released', async () => {
    const cfg = config('stopped')
    alerts.length = 0
    const controller = new AbortController()
    await assert.rejects(
      runStage(STAGES['convert-on-campus'], {runtime: runtimeOf(cfg), dryRun: false, terminalFd: null, signal: controller.signal}, async ({signal}) => {
        controller.abort('SIGTERM')
        // What a conversion does when its signal fires: the child is killed and the wait rejects.
        throw Object.assign(new Error('The operation was aborted'), {name: 'AbortError', aborted: signal.aborted})
      }),
      InterruptedError,
    )
    assert.equal(alerts.length, 0, 'no alert for a stop')
    const logs = sandbox.host('stopped').at('logs', 'convert_on_campus')
    const file = readdirSync(logs, {recursive: true}).map(String).find((f) => f.endsWith('.log') && !f.includes('summary'))!
    const events = readFileSync(join(logs, file), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as {event: string}).event)
    assert.deepEqual(events, ['stage.start', 'stage.interrupted'])
    assert.equal(existsSync(join(cfg.state.directory, 'locks', 'convert-on-campus.sas.lock')), false, 'lock released')
  })

  it('a second run of the same stage and radar is refused with the holder named', async () => {
    const cfg = config('site')
    const held = await acquireLock(cfg.state.directory, 'rsync-to-campus', 'sas')
    try {
      await assert.rejects(
        runStage(STAGES['rsync-to-campus'], {runtime: runtimeOf(cfg), dryRun: false, terminalFd: null}, async () => ({succeeded: 0, failed: 0})),
        (error: unknown) => error instanceof LockedError && error.message.includes(`pid ${process.pid}`),
      )
    } finally {
      await held.release()
    }
  })

  it('a dry run writes no file, takes no lock and pushes nothing', async () => {
    const cfg = config('dry')
    const result = await runStage(STAGES['rsync-to-nas'], {runtime: runtimeOf(cfg), dryRun: true, terminalFd: null}, async ({summary}) => {
      summary.line('No files to be transferred.')
      return {succeeded: 0, failed: 0}
    })
    assert.equal(result.summaryFile, null)
    assert.equal(result.telemetry, undefined)
    assert.equal(existsSync(sandbox.host('dry').at('logs')), false)
    assert.equal(existsSync(sandbox.host('dry').at('state')), false)
  })
})
