// rsync-to-nas end to end: the CLI as a child process, real Borealis fixture files, a real NAS
// directory tree (local transport), a real sshd for the non-NAS route, a real HTTP server for
// Slack alerts, real bzip2.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import YAML from 'yaml'

import {parseBorealisName, parseDmapName} from '../src/lib/formats/names.js'
import {FIXTURES, REPO, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'
import {startSshd, type SshdHandle} from './helpers/sshd.js'

const BOREALIS = join(FIXTURES, 'borealis')
const CORRUPTER = `
const {Inotify} = require(${JSON.stringify(join(REPO, 'node_modules', 'node-inotify'))})
const fs = require('node:fs')
const dir = process.argv[1]
const inotify = new Inotify()
inotify.addWatch({path: dir, watch_for: Inotify.IN_CREATE | Inotify.IN_MOVED_TO, callback: (event) => {
  if (!event.name || event.name.startsWith('.')) return
  try {
    const fd = fs.openSync(dir + '/' + event.name, 'r+')
    const size = fs.fstatSync(fd).size
    const b = Buffer.alloc(1)
    fs.readSync(fd, b, 0, 1, size - 1)
    b[0] ^= 0xff
    fs.writeSync(fd, b, 0, 1, size - 1)
    fs.closeSync(fd)
  } catch {}
}})
console.log('watching')
`
const sandbox = makeSandbox()
let slack: Server
const alerts: string[] = []
let sshd: SshdHandle | undefined

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
  await sshd?.stop()
  await new Promise((resolve) => slack.close(resolve))
  sandbox.cleanup()
})

/** Name time of a Borealis or DMAP file name, so check_timestamp passes. */
function nameTime(name: string): Date {
  try {
    return parseBorealisName(name).time
  } catch {
    return parseDmapName(name).time
  }
}

function placeFixture(dir: string, name: string, as = name): string {
  mkdirSync(dir, {recursive: true})
  const path = join(dir, as)
  copyFileSync(join(BOREALIS, name), path)
  utimesSync(path, nameTime(as), nameTime(as))
  return path
}

interface Site {
  configFile: string
  data: string
  nas: string
  quarantine: string
  logs: string
}

function site(name: string, extra: Record<string, unknown> = {}): Site {
  const host = sandbox.host(name)
  const s = {configFile: host.at('config.yaml'), data: host.at('data'), nas: host.at('nas'), quarantine: host.at('quarantine'), logs: host.at('logs')}
  mkdirSync(s.data, {recursive: true})
  mkdirSync(s.nas, {recursive: true}) // the NAS is mounted
  const config = {
    radar: 'sas',
    logging: {directory: s.logs},
    state: {directory: host.at('state')},
    borealis: {dataDirectory: s.data, quarantineDirectory: s.quarantine},
    site: {nasDataRoot: s.nas, siteLinuxDataRoot: host.at('site-linux')},
    alerts: {slackWebhook: `http://127.0.0.1:${(slack.address() as AddressInfo).port}/hook`},
    retry: {attempts: 2, initialDelayMs: 10, maxDelayMs: 20},
    ...extra,
  }
  writeFileSync(s.configFile, YAML.stringify(config))
  return s
}

it('a NAS data root that does not exist (NAS not mounted) is exit 2 naming it; the radar keeps its files', async () => {
  const s = site('unmounted')
  rmSync(s.nas, {recursive: true})
  const file = join(s.data, '20231004.1400.00.sas.0.rawacf.h5')
  writeFileSync(file, 'data')
  const old = new Date('2023-10-04T15:00:00Z')
  utimesSync(file, old, old)
  const {code, stderr} = await runCli(['rsync-to-nas', '--config', s.configFile])
  assert.equal(code, 2, stderr)
  assert.ok(stderr.includes(`dataflow: ${s.nas}: no such file or directory (ENOENT, stat)`), stderr)
  assert.ok(existsSync(file))
  assert.equal(existsSync(s.nas), false, 'nothing written under the mount point')
})

function summaryOf(s: Site): string {
  const dir = join(s.logs, 'rsync_to_nas', 'summary')
  const file = readdirSync(dir, {recursive: true}).map(String).find((f) => f.endsWith('_summary.log'))!
  return readFileSync(join(dir, file), 'utf8')
}

const md5 = (path: string) => spawnSync('md5sum', ['--', path], {encoding: 'utf8'}).stdout.split(' ')[0]

describe('rsync-to-nas (NAS site, local transport)', () => {
  it('routes every type, bzip2s .rawacf, backs up rawacf files, verifies, then deletes the sources', async () => {
    const s = site('nas-routing')
    const dmap = placeFixture(s.data, '20231004.1400.00.sas.a.rawacf')
    const bz2 = placeFixture(join(s.data, 'sub'), '20231004.1400.51.rkn.d.rawacf.bz2')
    const h5 = placeFixture(s.data, '20231004.1400.00.sas.0.rawacf.h5')
    const iq = placeFixture(s.data, '20231004.1400.00.sas.0.antennas_iq.h5')
    const odd = join(s.data, '-rf $(touch pwned) rawacf notes.txt')
    writeFileSync(odd, 'not data')
    utimesSync(odd, new Date('2023-10-04T14:00:00Z'), new Date('2023-10-04T14:00:00Z'))
    const skewed = placeFixture(s.data, '20231004.1600.00.cly.0.rawacf.h5')
    utimesSync(skewed, new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'))
    const before = {dmap: readFileSync(dmap), bz2: md5(bz2), h5: md5(h5), iq: md5(iq)}
    alerts.length = 0

    const {code, stdout, stderr} = await runCli(['rsync-to-nas', '--config', s.configFile, '--json'])
    assert.equal(code, 0, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; failed: number; files: Array<{outcome: string}>}
    assert.equal(result.succeeded, 6)
    assert.equal(result.failed, 0)

    const produced = join(s.nas, 'rawacf_dmap', '20231004.1400.00.sas.a.rawacf.bz2')
    assert.deepEqual(spawnSync('bzip2', ['-dc', produced]).stdout, before.dmap, 'the .bz2 decompresses to the radar file')
    assert.equal(spawnSync('bzip2', ['-t', produced]).status, 0)
    assert.equal(md5(join(s.nas, 'backup', '20231004.1400.00.sas.a.rawacf.bz2')), md5(produced))
    assert.equal(md5(join(s.nas, 'rawacf_dmap', '20231004.1400.51.rkn.d.rawacf.bz2')), before.bz2)
    assert.equal(md5(join(s.nas, 'backup', '20231004.1400.51.rkn.d.rawacf.bz2')), before.bz2)
    assert.equal(md5(join(s.nas, 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')), before.h5)
    assert.equal(md5(join(s.nas, 'backup', '20231004.1400.00.sas.0.rawacf.h5')), before.h5)
    assert.equal(md5(join(s.nas, 'antennas_iq_array', '20231004.1400.00.sas.0.antennas_iq.h5')), before.iq)
    assert.equal(existsSync(join(s.nas, 'backup', '20231004.1400.00.sas.0.antennas_iq.h5')), false, 'no backup of antennas_iq')
    assert.ok(existsSync(join(s.nas, 'conversion_failure', '-rf $(touch pwned) rawacf notes.txt')))
    assert.ok(existsSync(join(s.nas, 'conversion_failure', '20231004.1600.00.cly.0.rawacf.h5')))
    assert.equal(statSync(join(s.nas, 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')).mode & 0o777, 0o775)
    for (const path of [dmap, `${dmap}.bz2`, bz2, h5, iq, odd, skewed]) assert.equal(existsSync(path), false, `${path} deleted`)
    assert.equal(readdirSync(sandbox.dir, {recursive: true}).map(String).some((f) => f.endsWith('pwned')), false, 'no shell ran')

    const summary = summaryOf(s)
    assert.match(summary, new RegExp(`Transferring from: ${s.data}\nTransferring to NAS: ${s.nas}\n\n`))
    assert.ok(summary.includes(`Successfully transferred: ${dmap}.bz2\n`))
    assert.ok(summary.includes(`Successfully transferred: ${bz2}\n`))
    assert.ok(summary.includes(`unknown file type: ${odd}\n`))
    assert.ok(summary.includes(`check_timestamp failed: ${skewed}\n`))
    assert.match(summary, /\nFinished rsync_to_nas\. End time: \d{8} \d\d:\d\d:\d\d UTC\n\n$/)
    assert.equal(alerts.length, 1)
    assert.match(alerts[0]!, new RegExp(`^\\d{8} \\d\\d:\\d\\d:\\d\\d {3}sas - check_timestamp failed: ${skewed}$`))
  })

  it('skips the trigger block and files still being written; says so when nothing is left', async () => {
    const s = site('nas-trigger')
    const current = placeFixture(s.data, '20231004.1400.00.sas.0.rawacf.h5')
    const fresh = join(s.data, '20231004.1600.00.cly.0.rawacf.h5')
    copyFileSync(join(BOREALIS, '20231004.1600.00.cly.0.rawacf.h5'), fresh)
    const {code, stdout} = await runCli(['rsync-to-nas', current, '--config', s.configFile, '--json'])
    assert.equal(code, 0)
    const result = JSON.parse(stdout) as {files: unknown[]; skipped: Array<{file: string; reason: string}>}
    assert.equal(result.files.length, 0)
    assert.deepEqual(result.skipped.map((x) => x.file).sort(), [current, fresh].sort())
    assert.ok(existsSync(current) && existsSync(fresh))
    assert.ok(summaryOf(s).includes('No files to be transferred.\n'))
  })

  it('a failed backup copy keeps the source and skips the main copy (backup-check-overwritten)', async () => {
    const s = site('nas-backup-fails')
    const h5 = placeFixture(s.data, '20231004.1400.00.sas.0.rawacf.h5')
    mkdirSync(s.nas, {recursive: true})
    writeFileSync(join(s.nas, 'backup'), 'a file where the backup directory should be')
    const {code, stdout, stderr} = await runCli(['rsync-to-nas', '--config', s.configFile])
    assert.equal(code, 3, stdout + stderr)
    assert.ok(existsSync(h5), 'source kept')
    assert.equal(existsSync(join(s.nas, 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')), false)
    assert.ok(summaryOf(s).includes(`Transfer failed: ${h5}\n`))
  })

  it('a same-size destination with different content is detected, re-sent once and verified (append-verify-forever)', async () => {
    const s = site('nas-conflict')
    const h5 = placeFixture(s.data, '20231004.1400.00.sas.0.rawacf.h5')
    const good = md5(h5)
    const stale = join(s.nas, 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')
    mkdirSync(join(s.nas, 'rawacf_array'), {recursive: true})
    writeFileSync(stale, Buffer.alloc(statSync(h5).size, 0))
    const {code, stderr} = await runCli(['rsync-to-nas', '--config', s.configFile])
    assert.equal(code, 0, stderr)
    assert.equal(md5(stale), good)
    assert.equal(existsSync(h5), false)
  })

  it('a copy that fails verification twice (a NAS that corrupts data) is quarantined with a reason and alerted once', async () => {
    const s = site('nas-corrupting')
    // 64 MB so that re-reading the copy takes long enough for the corrupter to strike first.
    const h5 = join(s.data, '20231004.1400.00.sas.0.rawacf.h5')
    writeFileSync(h5, randomBytes(64 << 20))
    utimesSync(h5, nameTime('20231004.1400.00.sas.0.rawacf.h5'), nameTime('20231004.1400.00.sas.0.rawacf.h5'))
    const good = md5(h5)
    const watched = join(s.nas, 'rawacf_array')
    mkdirSync(watched, {recursive: true})
    // A real faulty destination: a separate process watching with inotify flips the last byte of
    // every file that appears under its final (non-hidden) name.
    const corrupter = spawn(process.execPath, ['-e', CORRUPTER, watched], {stdio: ['ignore', 'pipe', 'inherit']})
    try {
      await new Promise<void>((resolve) => corrupter.stdout.once('data', () => resolve()))
      alerts.length = 0
      const {code, stdout, stderr} = await runCli(['rsync-to-nas', '--config', s.configFile, '--json'])
      assert.equal(code, 3, stderr)
      const result = JSON.parse(stdout) as {files: Array<{outcome: string; reason: string}>}
      assert.equal(result.files[0]!.outcome, 'quarantined')
      assert.match(result.files[0]!.reason, /does not match|mismatch|differ/)
    } finally {
      corrupter.kill()
    }
    const quarantined = join(s.quarantine, '20231004.1400.00.sas.0.rawacf.h5')
    assert.equal(md5(quarantined), good, 'the radar file is intact in quarantine')
    assert.match(readFileSync(`${quarantined}.reason`, 'utf8'), /^\d{4}-\d\d-\d\dT.* .*20231004\.1400\.00\.sas\.0\.rawacf\.h5/)
    assert.equal(existsSync(h5), false)
    assert.equal(md5(join(s.nas, 'backup', '20231004.1400.00.sas.0.rawacf.h5')), good, 'the verified backup copy stays')
    assert.equal(alerts.length, 1)
    assert.match(alerts[0]!, /quarantined/)
    const events = readdirSync(join(s.logs, 'rsync_to_nas'), {recursive: true}).map(String).filter((f) => !f.includes('summary') && f.endsWith('.log'))
    const log = readFileSync(join(s.logs, 'rsync_to_nas', events[0]!), 'utf8')
    assert.equal(log.split('\n').filter((l) => l.includes('"verify.failed"')).length, 1, 'exactly one re-send')
    assert.ok(summaryOf(s).includes(`Transfer failed: ${h5}\n`))
  })

  it('a .bz2 left by an earlier run beside its .rawacf is remade from the .rawacf, not sent twice', async () => {
    const s = site('nas-leftover-bz2')
    const dmap = placeFixture(s.data, '20231004.1400.00.sas.a.rawacf')
    writeFileSync(`${dmap}.bz2`, 'a stale, truncated compression')
    utimesSync(`${dmap}.bz2`, nameTime('20231004.1400.00.sas.a.rawacf'), nameTime('20231004.1400.00.sas.a.rawacf'))
    const original = readFileSync(dmap)
    const {code, stdout, stderr} = await runCli(['rsync-to-nas', '--config', s.configFile, '--json'])
    assert.equal(code, 0, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; failed: number}
    assert.deepEqual([result.succeeded, result.failed], [1, 0])
    assert.deepEqual(spawnSync('bzip2', ['-dc', join(s.nas, 'rawacf_dmap', '20231004.1400.00.sas.a.rawacf.bz2')]).stdout, original)
    assert.equal(existsSync(dmap), false)
    assert.equal(existsSync(`${dmap}.bz2`), false)
  })

  it('--dry-run prints the plan and changes nothing', async () => {
    const s = site('nas-dry')
    const h5 = placeFixture(s.data, '20231004.1400.00.sas.0.rawacf.h5')
    const {code, stdout} = await runCli(['rsync-to-nas', '--config', s.configFile, '--dry-run'])
    assert.equal(code, 0)
    assert.match(stdout, /planned {5}.*20231004\.1400\.00\.sas\.0\.rawacf\.h5 → .*rawacf_array\/20231004\.1400\.00\.sas\.0\.rawacf\.h5 \(\+ .*backup/)
    assert.ok(existsSync(h5))
    assert.deepEqual(readdirSync(s.nas), [], 'nothing written to the NAS')
    assert.equal(existsSync(s.logs), false)
  })
})

describe('rsync-to-nas (non-NAS site, ssh transport to a real sshd)', () => {
  it('sends only rawacf files to site-linux over ssh, verified, sources deleted', async () => {
    sshd = await startSshd()
    const remoteRoot = sandbox.host('site-linux').at('data', 'borealis_data')
    const s = site('non-nas', {nasSites: ['pgr'], hosts: {siteLinux: sshd.host}, site: {nasDataRoot: '/nonexistent', siteLinuxDataRoot: remoteRoot}})
    const h5 = placeFixture(s.data, '20231004.1400.00.sas.0.rawacf.h5')
    const iq = placeFixture(s.data, '20231004.1400.00.sas.0.antennas_iq.h5')
    const good = md5(h5)
    const {code, stdout, stderr} = await runCli(['rsync-to-nas', '--config', s.configFile, '--json'])
    assert.equal(code, 0, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; skipped: Array<{file: string}>}
    assert.equal(result.succeeded, 1)
    assert.equal(md5(join(remoteRoot, 'rawacf_array', '20231004.1400.00.sas.0.rawacf.h5')), good)
    assert.equal(existsSync(h5), false)
    assert.ok(existsSync(iq), 'antennas_iq stays on a non-NAS site')
    assert.match(summaryOf(s), new RegExp(`Transferring to Site-Linux: ${remoteRoot}\n`))
  })
})
