// convert-on-campus end to end: the CLI as a child process on a real directory tree (holding,
// data and conversion-failure directories), real fixture files, real bzip2, a real HTTP server for
// the Slack alerts. Also checks that the telemetry parser's rules would count the failures.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {basename, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import YAML from 'yaml'

import {FIXTURES, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const BOREALIS = join(FIXTURES, 'borealis')
const sandbox = makeSandbox('dataflow-campus-')
let slack: Server
const alerts: string[] = []

before(async () => {
  slack = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      alerts.push((JSON.parse(body) as {text: string}).text)
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve))
})
after(async () => {
  await new Promise((resolve) => slack.close(resolve))
  sandbox.cleanup()
})

interface Campus {
  configFile: string
  holding: string
  data: string
  failure: string
  logs: string
}

function campus(name: string): Campus {
  const host = sandbox.host(name)
  const c = {configFile: host.at('config.yaml'), holding: host.at('sddata', 'sas_holding_dir'), data: host.at('sddata', 'sas_data'), failure: host.at('sddata', 'conversion_failure'), logs: host.at('logs')}
  for (const dir of [c.holding, c.data]) mkdirSync(dir, {recursive: true})
  const config = {
    radar: 'sas',
    logging: {directory: c.logs},
    state: {directory: host.at('state')},
    campus: {
      holdingDirectory: host.at('sddata', '{radar}_holding_dir'),
      dataDirectory: host.at('sddata', '{radar}_data'),
      conversionFailureDirectory: c.failure,
    },
    alerts: {slackWebhook: `http://127.0.0.1:${(slack.address() as AddressInfo).port}/hook`},
  }
  writeFileSync(c.configFile, YAML.stringify(config))
  return c
}

function place(dir: string, fixture: string, as = fixture): string {
  const path = join(dir, as)
  copyFileSync(join(BOREALIS, fixture), path)
  return path
}

function summaryOf(c: Campus): string {
  const dir = join(c.logs, 'convert_on_campus', 'summary')
  const file = readdirSync(dir, {recursive: true}).map(String).find((f) => f.endsWith('convert_on_campus_summary.log'))!
  assert.match(basename(file), /^sas\.\d{8}\.convert_on_campus_summary\.log$/)
  return readFileSync(join(dir, file), 'utf8')
}

/** What parse_dataflow_log.py counts for a conversion script: lines starting with these phrases. */
function telemetryCounts(summary: string): {converted: string[]; failed: string[]} {
  const lines = summary.split('\n')
  const last = (line: string) => line.split(/\s+/).filter(Boolean).at(-1)!.split('/').at(-1)!
  return {
    converted: lines.filter((l) => l.startsWith('Successfully converted:')).map(last),
    failed: lines.filter((l) => l.startsWith('File failed to convert:')).map(last),
  }
}

const tree = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, {recursive: true})
        .map(String)
        .sort()
        .map((f) => `${f}:${statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 'dir'}`)
    : []

describe('convert-on-campus', () => {
  it('converts good files, quarantines bad ones with a reason, moves site-converted DMAP files through', async () => {
    const c = campus('mixed')
    const good = place(c.holding, '20231004.1400.00.sas.0.rawacf.h5')
    const good2 = place(c.holding, '20231004.1400.51.rkn.3.rawacf.h5')
    const truncated = join(c.holding, '20231004.1600.00.sas.0.rawacf.h5')
    writeFileSync(truncated, readFileSync(good).subarray(0, 500_000))
    const slice26 = place(c.holding, '20231004.1400.00.pgr.1.rawacf.h5', '20231004.1400.00.pgr.26.rawacf.h5')
    const siteDmap = place(c.holding, '20231004.1600.00.cly.a.rawacf.bz2')
    const notes = join(c.holding, 'notes.txt')
    writeFileSync(notes, 'left alone')
    const goodBytes = readFileSync(good)
    alerts.length = 0

    const {code, stdout, stderr} = await runCli(['convert-on-campus', '--config', c.configFile, '--json'])
    assert.equal(code, 3, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; failed: number; files: Array<{source: string; kind: string; outcome: string; reason?: string}>}
    assert.deepEqual([result.succeeded, result.failed], [3, 2])
    const outcome = (path: string) => result.files.find((f) => f.source === path)!
    assert.equal(outcome(good).outcome, 'converted')
    assert.equal(outcome(good2).outcome, 'converted')
    assert.equal(outcome(siteDmap).outcome, 'moved')
    assert.match(outcome(truncated).reason!, /truncated file/)
    assert.match(outcome(slice26).reason!, /outside range 0-25/)

    // Converted: DMAP + HDF5 in the data directory; combf carries the absolute holding path.
    const dmap = join(c.data, '20231004.1400.00.sas.a.rawacf.bz2')
    const dmapBytes = spawnSync('bzip2', ['-dc', dmap], {maxBuffer: 1 << 26}).stdout
    const reference = readFileSync(join(BOREALIS, '20231004.1400.00.sas.a.rawacf'))
    assert.ok(dmapBytes.includes(Buffer.from(`Converted from Borealis file: ${good} ; `)))
    const relativeOrigin = Buffer.from('Converted from Borealis file: 20231004.1400.00.sas.0.rawacf.h5 ; ')
    assert.equal(dmapBytes.length - reference.length, 20 * (good.length - '20231004.1400.00.sas.0.rawacf.h5'.length), 'only combf differs in length')
    assert.ok(reference.includes(relativeOrigin))
    assert.ok(readFileSync(join(c.data, '20231004.1400.00.sas.0.rawacf.h5')).equals(goodBytes))
    assert.ok(existsSync(join(c.data, '20231004.1400.51.rkn.d.rawacf.bz2')))
    assert.ok(existsSync(join(c.data, '20231004.1400.51.rkn.3.rawacf.h5')))
    assert.ok(readFileSync(join(c.data, '20231004.1600.00.cly.a.rawacf.bz2')).equals(readFileSync(join(BOREALIS, '20231004.1600.00.cly.a.rawacf.bz2'))))

    // Failed: HDF5 in the failure directory with a reason file; no DMAP made from them anywhere.
    for (const [path, reason] of [[truncated, /truncated file/], [slice26, /outside range 0-25/]] as const) {
      const moved = join(c.failure, basename(path))
      assert.ok(existsSync(moved), moved)
      assert.match(readFileSync(`${moved}.reason`, 'utf8'), reason)
      assert.match(readFileSync(`${moved}.reason`, 'utf8'), /^\d{4}-\d\d-\d\dT[\d:.]+Z .*\n$/)
    }
    assert.deepEqual(readdirSync(c.holding), ['notes.txt'], 'holding directory emptied of data files; nothing else touched')
    assert.deepEqual(readdirSync(c.data).sort(), [
      '20231004.1400.00.sas.0.rawacf.h5',
      '20231004.1400.00.sas.a.rawacf.bz2',
      '20231004.1400.51.rkn.3.rawacf.h5',
      '20231004.1400.51.rkn.d.rawacf.bz2',
      '20231004.1600.00.cly.a.rawacf.bz2',
    ])

    // Summary: the original phrases, plus the line the telemetry parser counts.
    const summary = summaryOf(c)
    assert.match(summary, /^#{80}\n\nExecuting .* for sas\n\d{8} \d\d:\d\d:\d\d UTC\ndata_flow: .*\npyDARNio: .*\n/)
    for (const path of [good, good2]) assert.ok(summary.includes(`\nSuccessfully converted: ${path}\n`))
    for (const path of [truncated, slice26]) assert.ok(summary.includes(`\nFile failed to convert to dmap: ${path}\nFile failed to convert: ${path}\n`), summary)
    assert.ok(!summary.includes('No files to be converted.'))
    assert.ok(!summary.includes('No dmap files to be moved.'))
    assert.match(summary, /\nFinished convert_on_campus\. End time: \d{8} \d\d:\d\d:\d\d UTC\n\n$/)
    assert.deepEqual(telemetryCounts(summary), {
      converted: ['20231004.1400.00.sas.0.rawacf.h5', '20231004.1400.51.rkn.3.rawacf.h5'],
      failed: ['20231004.1400.00.pgr.26.rawacf.h5', '20231004.1600.00.sas.0.rawacf.h5'],
    })

    // One alert per failed file.
    assert.equal(alerts.length, 2, alerts.join('\n'))
    assert.ok(alerts.some((a) => a.includes(`File failed to convert to dmap: ${truncated}: `)))
    assert.ok(alerts.some((a) => a.includes(`File failed to convert to dmap: ${slice26}: `)))
  })

  it('says so when there is nothing to do (exit 0)', async () => {
    const c = campus('empty')
    const {code, stdout, stderr} = await runCli(['convert-on-campus', '--config', c.configFile, '--radar', 'sas'])
    assert.equal(code, 0, stderr)
    assert.match(stdout, /nothing to do/)
    const summary = summaryOf(c)
    assert.ok(summary.includes('\nNo files to be converted.\nNo dmap files to be moved.\n\nFinished convert_on_campus.'), summary)
  })

  it('--dry-run changes nothing and writes no summary', async () => {
    const c = campus('dry')
    place(c.holding, '20231004.1400.00.sas.0.rawacf.h5')
    writeFileSync(join(c.holding, '20231004.1600.00.sas.0.rawacf.h5'), 'not hdf5')
    place(c.holding, '20231004.1600.00.cly.a.rawacf.bz2')
    const before = [tree(c.holding), tree(c.data), tree(c.failure)]
    alerts.length = 0
    const {code, stdout, stderr} = await runCli(['convert-on-campus', '--config', c.configFile, '--dry-run'])
    assert.equal(code, 0, stderr)
    assert.match(stdout, /^planned .*20231004\.1400\.00\.sas\.0\.rawacf\.h5 → .*sas_data\/20231004\.1400\.00\.sas\.a\.rawacf\.bz2, /m)
    assert.match(stdout, /^planned .*20231004\.1600\.00\.cly\.a\.rawacf\.bz2 → /m)
    assert.deepEqual([tree(c.holding), tree(c.data), tree(c.failure)], before)
    assert.equal(existsSync(c.logs) && readdirSync(c.logs, {recursive: true}).some((f) => String(f).endsWith('.log')), false)
    assert.equal(alerts.length, 0)
  })
})
