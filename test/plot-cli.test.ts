// `dataflow plot-iq` and the site stage `dataflow plot-antennas-iq`, run as child processes on
// real directory trees with copies of the antennas_iq fixtures: antenna lists, output names and
// directories, one-line errors naming the file, exit codes, the stage's UTC window, slice
// selection (not 10, 20: docs/design.md#plot-slice-match-too-wide), summary phrases, alerts and
// atomic output.
import assert from 'node:assert/strict'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {basename, join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import sharp from 'sharp'
import YAML from 'yaml'

import {EXIT} from '../src/lib/errors.js'
import {FIXTURES, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const BOREALIS = join(FIXTURES, 'borealis')
const SAS = join(BOREALIS, '20231004.1400.00.sas.0.antennas_iq.h5')
const RKN = join(BOREALIS, '20231004.1400.00.rkn.0.antennas_iq.h5')
const sandbox = makeSandbox('dataflow-plot-cli-')
after(() => sandbox.cleanup())

function put(dir: string, name: string, from: string | Buffer): string {
  mkdirSync(dir, {recursive: true})
  const path = join(dir, name)
  if (typeof from === 'string') copyFileSync(from, path)
  else writeFileSync(path, from)
  return path
}

const jpgs = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort() : [])
const show = (r: {code: number; stdout: string; stderr: string}) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

describe('dataflow plot-iq', () => {
  it('plots the listed antennas next to the input by default, named after its first six fields', async () => {
    const input = put(sandbox.host('list').at('in'), '20231004.1400.00.sas.0.antennas_iq.h5', SAS)
    const result = await runCli(['plot-iq', '--antennas', '0-2,5', input])
    assert.equal(result.code, 0, show(result))
    const names = [0, 1, 2, 5].map((n) => `20231004.1400.00.sas.0.antennas_iq.antenna_${n}_0_70.jpg`)
    assert.deepEqual(jpgs(sandbox.host('list').at('in')), [...names].sort())
    assert.deepEqual(result.stdout.trim().split('\n'), names.map((n) => `Wrote ${join(sandbox.host('list').at('in'), n)}`))
    assert.equal(result.stderr, '')
    const meta = await sharp(join(sandbox.host('list').at('in'), names[0]!)).metadata()
    assert.deepEqual([meta.format, meta.width], ['jpeg', 1000])
  })

  it('without --antennas plots every antenna of the file (the original plotted none); --html adds the page', async () => {
    const out = sandbox.host('all').at('plots')
    mkdirSync(out, {recursive: true})
    const result = await runCli(['plot-iq', '--json', '--html', '--plot-directory', out, '--start-sample', '5', '--end-sample', '60', SAS])
    assert.equal(result.code, 0, show(result))
    const summary = JSON.parse(result.stdout) as {succeeded: number; failed: number; files: Array<{ok: boolean; plots: Array<{antenna: number; path: string}>; html: string; sequences: number}>}
    assert.equal(summary.succeeded, 1)
    assert.equal(summary.failed, 0)
    const file = summary.files[0]!
    assert.deepEqual(file.plots.map((p) => p.antenna), Array.from({length: 20}, (_, i) => i))
    assert.equal(file.sequences, 35)
    assert.equal(jpgs(out).length, 20)
    assert.ok(jpgs(out).every((f) => f.endsWith('_5_60.jpg')))
    assert.equal(file.html, join(out, '20231004.1400.00.sas.0.antennas_iq.5_60.html'))
    assert.match(readFileSync(file.html, 'utf8'), /"antennas":\[\{"antenna":0,/)
    assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.')), [], 'no temporary files left')
  })

  it('--dry-run prints the names and writes nothing', async () => {
    const dir = sandbox.host('dry').at('in')
    const input = put(dir, '20231004.1400.00.rkn.0.antennas_iq.h5', RKN)
    const result = await runCli(['plot-iq', '--dry-run', '--antennas', '3,4', input])
    assert.equal(result.code, 0, show(result))
    assert.deepEqual(result.stdout.trim().split('\n'), [3, 4].map((n) => `${input} → ${join(dir, `20231004.1400.00.rkn.0.antennas_iq.antenna_${n}_0_70.jpg`)}`))
    assert.deepEqual(jpgs(dir), [])
  })

  it('usage errors exit 2 with one line: bad antenna list, empty colour range, missing plot directory, bad number', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--antennas', '1-2-3'], /^dataflow: --antennas "1-2-3": "1-2-3" is not an antenna number or a range like 0-19$/],
      [['--antennas', '5-3'], /runs backwards/],
      [['--min-power', '50', '--max-power', '40'], /^dataflow: --max-power \(40\) must be greater than --min-power \(50\)$/],
      [['--start-sample', '70', '--end-sample', '70'], /--end-sample \(70\) must be a whole number greater than --start-sample \(70\)/],
      [['--plot-directory', join(sandbox.dir, 'nope')], /^dataflow: --plot-directory .*nope: no such directory$/],
      [['--min-power', 'abc'], /"abc" is not a number/],
    ]
    for (const [args, message] of cases) {
      const result = await runCli(['plot-iq', ...args, SAS])
      assert.equal(result.code, EXIT.USAGE, `${args.join(' ')}\n${show(result)}`)
      assert.match(result.stderr.trim().split('\n')[0]!, message)
      assert.equal(result.stdout, '')
    }
  })

  it('a bad file fails alone: one line naming it, the others are plotted, exit 3', async () => {
    const dir = sandbox.host('mixed').at('in')
    const good = put(dir, '20231004.1400.00.sas.0.antennas_iq.h5', SAS)
    const rawacf = put(dir, '20231004.1400.00.pgr.1.rawacf.h5', join(BOREALIS, '20231004.1400.00.pgr.1.rawacf.h5'))
    const truncated = put(dir, '20231004.1600.00.sas.0.antennas_iq.h5', readFileSync(SAS).subarray(0, 200_000))
    const missing = join(dir, '20231004.1800.00.sas.0.antennas_iq.h5')
    const result = await runCli(['plot-iq', '--antennas', '0,25', rawacf, good, truncated, missing])
    assert.equal(result.code, EXIT.PARTIAL, show(result))
    const lines = result.stderr.trim().split('\n')
    assert.equal(lines.length, 4, result.stderr)
    assert.match(lines[0]!, new RegExp(`^dataflow: ${rawacf}: not an antennas_iq file`))
    assert.match(lines[1]!, new RegExp(`^dataflow: ${good}: antenna 25 not in this file's rx_antennas \\(0-19\\)$`))
    assert.match(lines[2]!, new RegExp(`^dataflow: ${truncated}: .*trunc`, 'i'))
    assert.equal(lines[3], `dataflow: ${missing}: no such file`)
    // Antenna 0 of the good file was still plotted.
    assert.deepEqual(jpgs(dir), ['20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg'])
    assert.equal(result.stdout.trim(), `Wrote ${join(dir, '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg')}`)
  })
})

// ---------------------------------------------------------------------------------------------

/** A webhook that records what is posted to it (the Slack alerts). */
async function startWebhook(): Promise<{url: string; posts: string[]; server: Server}> {
  const posts: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      posts.push(body)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, posts, server}
}

function stageConfig(name: string, extra: Record<string, unknown> = {}) {
  const site = sandbox.host(name)
  const config = {
    radar: 'sas',
    logging: {directory: site.at('logs')},
    state: {directory: site.at('state')},
    site: {nasDataRoot: site.at('nas'), siteLinuxDataRoot: site.at('site-linux-data'), plotDirectory: site.at('daily_plots')},
    ...extra,
  }
  const file = site.at('config.yaml')
  writeFileSync(file, YAML.stringify(config))
  return {site, file}
}

function summaryLog(logs: string): string {
  const dir = join(logs, 'plot_antennas_iq', 'summary')
  const file = readdirSync(dir, {recursive: true}).map(String).find((f) => f.endsWith('plot_antennas_iq_summary.log'))
  assert.ok(file, `no summary log under ${dir}`)
  return readFileSync(join(dir, file), 'utf8')
}

describe('dataflow plot-antennas-iq (site stage)', () => {
  let webhook: Awaited<ReturnType<typeof startWebhook>>
  before(async () => {
    webhook = await startWebhook()
  })
  after(() => webhook.server.close())

  it('plots slice-0 antennas_iq files of the last two UTC hours from antennas_iq_array/ and conversion_failure/', async () => {
    const {site, file} = stageConfig('window', {alerts: {slackWebhook: webhook.url}})
    const array = site.at('nas', 'antennas_iq_array')
    const failure = site.at('nas', 'conversion_failure')
    // --at 16:05 UTC: the window is the hours 14 and 15 of 2023-10-04 (UTC whatever the host's TZ).
    const inWindow = [put(array, '20231004.1400.00.sas.0.antennas_iq.h5', SAS), put(failure, '20231004.1522.00.sas.0.antennas_iq.h5', RKN)]
    const broken = put(failure, '20231004.1500.00.sas.0.antennas_iq.h5', readFileSync(SAS).subarray(0, 200_000))
    const outside = [
      put(array, '20231004.1400.00.sas.10.antennas_iq.h5', SAS), // slice 10: the original's `0.antennas` took it
      put(array, '20231004.1420.00.sas.20.antennas_iq.h5', SAS),
      put(array, '20231004.1200.00.sas.0.antennas_iq.h5', SAS), // too old
      put(array, '20231004.1600.00.sas.0.antennas_iq.h5', SAS), // the current hour: still being written
      put(array, '20231004.1400.00.sas.0.rawacf.h5', join(BOREALIS, '20231004.1400.00.sas.0.rawacf.h5')),
      put(array, '.20231004.1400.00.sas.1.antennas_iq.h5', SAS),
    ]
    const plots = site.at('daily_plots')
    const result = await runCli(['plot-antennas-iq', '--config', file, '--at', '2023-10-04T16:05:00Z', '--json'], {env: {TZ: 'America/Regina'}})
    assert.equal(result.code, EXIT.PARTIAL, show(result))
    const json = JSON.parse(result.stdout) as {
      succeeded: number
      failed: number
      hours: string[]
      plotDirectory: string
      files: Array<{source: string; outcome: string; plots: string[]; reason?: string}>
    }
    assert.deepEqual(json.hours, ['20231004.14', '20231004.15'])
    assert.equal(json.plotDirectory, plots)
    assert.deepEqual([json.succeeded, json.failed], [2, 1])
    const bySource = new Map(json.files.map((f) => [f.source, f]))
    assert.deepEqual([...bySource.keys()].sort(), [...inWindow, broken].sort())
    for (const path of outside) assert.ok(!bySource.has(path), `${basename(path)} must not be plotted`)
    assert.match(bySource.get(broken)!.reason!, new RegExp(`^${broken}: `))

    // 20 antennas × 2 files, 1000 px wide, straight into the plot directory: no fullsize/, no temporaries.
    const written = jpgs(plots)
    assert.equal(written.length, 40)
    assert.deepEqual(
      written.filter((f) => f.includes('antenna_19_')),
      ['20231004.1400.00.sas.0.antennas_iq.antenna_19_0_70.jpg', '20231004.1522.00.sas.0.antennas_iq.antenna_19_0_70.jpg'],
    )
    assert.deepEqual(readdirSync(plots).filter((f) => !f.endsWith('.jpg')), [])
    assert.equal((await sharp(join(plots, written[0]!)).metadata()).width, 1000)

    const text = summaryLog(site.at('logs'))
    assert.match(text, new RegExp(`^IQ plot directory: ${plots}\\n\\n`, 'm'))
    for (const path of inWindow) assert.ok(text.includes(`Successfully converted: ${path}\n`), text)
    assert.ok(text.includes(`Failed to generate iq plot from: ${broken}\n`), text)
    assert.match(text, /^Finished plot_antennas_iq\. End time: /m)
    assert.equal(webhook.posts.length, 1, 'one alert, for the broken file')
    assert.match(webhook.posts[0]!, new RegExp(`Failed to generate iq plot from: ${broken}`))
  })

  it('says so when the window holds nothing; --dry-run plans and writes nothing', async () => {
    const {site, file} = stageConfig('empty')
    put(site.at('nas', 'antennas_iq_array'), '20231004.1400.00.sas.0.antennas_iq.h5', SAS)
    const none = await runCli(['plot-antennas-iq', '--config', file, '--at', '2023-10-05T16:05:00Z'])
    assert.equal(none.code, 0, show(none))
    assert.match(none.stdout, /nothing to do/)
    assert.match(summaryLog(site.at('logs')), /^No antenna iq files found to plot\.$/m)

    const dry = await runCli(['plot-antennas-iq', '--config', file, '--at', '2023-10-04T15:59:59Z', '--dry-run'])
    assert.equal(dry.code, 0, show(dry))
    assert.match(dry.stdout, /^planned +.*20231004\.1400\.00\.sas\.0\.antennas_iq\.h5 → .*daily_plots$/m)
    assert.deepEqual(jpgs(site.at('daily_plots')), [])
  })

  it('uses the site-linux data root for a site not in nasSites, and the current UTC time by default', async () => {
    const {site, file} = stageConfig('site-linux', {nasSites: []})
    const hourAgo = new Date(Date.now() - 3_600_000)
    const p = (n: number) => String(n).padStart(2, '0')
    // now − 1 h stays inside the window even if the hour turns during the test.
    const name = `${hourAgo.getUTCFullYear()}${p(hourAgo.getUTCMonth() + 1)}${p(hourAgo.getUTCDate())}.${p(hourAgo.getUTCHours())}00.00.sas.0.antennas_iq.h5`
    const input = put(site.at('site-linux-data', 'antennas_iq_array'), name, RKN)
    put(site.at('nas', 'antennas_iq_array'), name, SAS) // the NAS is not this site's data root
    const result = await runCli(['plot-antennas-iq', '--config', file], {env: {TZ: 'Asia/Kolkata'}})
    assert.equal(result.code, 0, show(result))
    assert.match(result.stdout, new RegExp(`^plotted +${input} → ${site.at('daily_plots')}$`, 'm'))
    assert.equal(jpgs(site.at('daily_plots')).length, 20)
  })
})
