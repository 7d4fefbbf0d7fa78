// Site-linux stages end to end over a real sshd (the "campus" host) with real files:
// rsync-to-campus and transfer-cam-photos, run as the CLI would be by the daemon or an operator.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {createServer, type AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import YAML from 'yaml'

import {FIXTURES, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'
import {startSshd, type SshdHandle} from './helpers/sshd.js'

const BOREALIS = join(FIXTURES, 'borealis')
const sandbox = makeSandbox()
let sshd: SshdHandle

before(async () => {
  sshd = await startSshd()
})
after(async () => {
  await sshd?.stop()
  sandbox.cleanup()
})

const md5 = (path: string) => spawnSync('md5sum', ['--', path], {encoding: 'utf8'}).stdout.split(' ')[0]

function put(dir: string, name: string, from?: string): string {
  mkdirSync(dir, {recursive: true})
  const path = join(dir, name)
  if (from) copyFileSync(join(BOREALIS, from), path)
  else writeFileSync(path, `photo ${name}`)
  return path
}

function setup(name: string, hostOverride?: object) {
  const site = sandbox.host(`${name}-site`)
  const campus = sandbox.host(`${name}-campus`)
  const config = {
    radar: 'sas',
    logging: {directory: site.at('logs')},
    state: {directory: site.at('state')},
    site: {nasDataRoot: site.at('nas'), camDirectory: site.at('cam'), plotDirectory: site.at('daily_plots'), quarantineDirectory: site.at('quarantine'), cameras: [210, 211, 212, 213]},
    campus: {
      dataDirectory: campus.at('sddata', '{radar}_data'),
      holdingDirectory: campus.at('sddata', '{radar}_holding_dir'),
      plotsDirectory: campus.at('sddata', 'antennas_iq_plots', '{radar}_iq_plots'),
      camRoot: campus.at('cam'),
    },
    hosts: {campus: {...sshd.host, ...hostOverride}},
    retry: {attempts: 2, initialDelayMs: 10, maxDelayMs: 20},
    timeouts: {sshConnectSeconds: 5},
  }
  const configFile = site.at('config.yaml')
  writeFileSync(configFile, YAML.stringify(config))
  return {site, campus, configFile}
}

function summary(logs: string, script: string): string {
  const dir = join(logs, script, 'summary')
  const file = readdirSync(dir, {recursive: true}).map(String).find((f) => f.endsWith('_summary.log'))!
  return readFileSync(join(dir, file), 'utf8')
}

describe('rsync-to-campus over a real sshd', () => {
  it('sends DMAP, HDF5 and plots (not fullsize/) over ONE ssh connection, verified, sources deleted', async () => {
    const {site, campus, configFile} = setup('r2c')
    const dmap = put(site.at('nas', 'rawacf_dmap'), '20231004.1400.00.sas.a.rawacf.bz2', '20231004.1400.00.sas.a.rawacf.bz2')
    const h5 = put(site.at('nas', 'rawacf_array'), '20231004.1400.00.sas.0.rawacf.h5', '20231004.1400.00.sas.0.rawacf.h5')
    const plot = put(site.at('daily_plots'), '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg', '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg')
    const fullsize = put(site.at('daily_plots', 'fullsize'), '20231004.1400.00.sas.0.antennas_iq.antenna_1_0_70.jpg', '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg')
    const expected = {dmap: md5(dmap), h5: md5(h5), plot: md5(plot)}
    const connectionsBefore = sshd.acceptedConnections()

    const {code, stdout, stderr} = await runCli(['rsync-to-campus', '--config', configFile, '--json'])
    assert.equal(code, 0, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; failed: number}
    assert.deepEqual([result.succeeded, result.failed], [3, 0])
    assert.equal(sshd.acceptedConnections() - connectionsBefore, 1, 'one multiplexed ssh connection for the whole run')

    assert.equal(md5(campus.at('sddata', 'sas_data', '20231004.1400.00.sas.a.rawacf.bz2')), expected.dmap)
    assert.equal(md5(campus.at('sddata', 'sas_holding_dir', '20231004.1400.00.sas.0.rawacf.h5')), expected.h5)
    assert.equal(md5(campus.at('sddata', 'antennas_iq_plots', 'sas_iq_plots', '20231004.1400.00.sas.0.antennas_iq.antenna_0_0_70.jpg')), expected.plot)
    assert.equal(statSync(campus.at('sddata', 'sas_data', '20231004.1400.00.sas.a.rawacf.bz2')).mode & 0o777, 0o664)
    for (const path of [dmap, h5, plot]) assert.equal(existsSync(path), false)
    assert.ok(existsSync(fullsize), 'fullsize/ is not shipped (plots-shipped-recursively)')

    const text = summary(site.at('logs'), 'rsync_to_campus')
    assert.ok(text.includes(`Transferring from: ${site.at('nas')}\n`))
    assert.ok(text.includes(`Transferring HDF5 files to: ${sshd.host.target}:${campus.at('sddata', 'sas_holding_dir')}\n\n`))
    assert.ok(text.includes(`Transferring DMap files to: ${sshd.host.target}:${campus.at('sddata', 'sas_data')}/\n\n`))
    for (const path of [dmap, h5, plot]) assert.ok(text.includes(`Successfully transferred: ${path}\n`), path)
  })

  it('an unreachable campus host: one clear line, exit 5, every source kept (connection-check-never-fails)', async () => {
    // A port nothing listens on, whose host key IS known: the failure is the connection itself.
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const {port} = server.address() as AddressInfo
        server.close(() => resolve(port))
      })
    })
    const knownHostsFile = sandbox.host('r2c-down-keys').at('known_hosts')
    writeFileSync(knownHostsFile, readFileSync(sshd.host.knownHostsFile!, 'utf8').replaceAll(`]:${sshd.host.port} `, `]:${closedPort} `))
    const {site, configFile} = setup('r2c-down', {port: closedPort, knownHostsFile})
    const dmap = put(site.at('nas', 'rawacf_dmap'), '20231004.1400.00.sas.a.rawacf.bz2', '20231004.1400.00.sas.a.rawacf.bz2')
    const {code, stderr} = await runCli(['rsync-to-campus', '--config', configFile])
    assert.equal(code, 5, stderr)
    assert.match(stderr, /^dataflow: .+/m)
    assert.ok(existsSync(dmap))
    assert.ok(summary(site.at('logs'), 'rsync_to_campus').includes(`Could not establish connection to ${sshd.host.target}\n`))
  })

  it('a data root that does not exist (NAS not mounted) is exit 2 naming it, not "nothing to send"', async () => {
    const {site, configFile} = setup('r2c-unmounted')
    const {code, stderr} = await runCli(['rsync-to-campus', '--config', configFile])
    assert.equal(code, 2, stderr)
    assert.match(stderr, new RegExp(`^dataflow: ${site.at('nas').replaceAll('/', '\\/')}: no such file or directory \\(ENOENT, stat\\)$`, 'm'))
  })

  it('says so when there is nothing to send, and opens no connection', async () => {
    const {site, configFile} = setup('r2c-empty')
    mkdirSync(site.at('nas'), {recursive: true})
    const before = sshd.acceptedConnections()
    const {code} = await runCli(['rsync-to-campus', '--config', configFile])
    assert.equal(code, 0)
    assert.equal(sshd.acceptedConnections(), before)
    const text = summary(site.at('logs'), 'rsync_to_campus')
    assert.ok(text.includes('No dmap files found to be transferred.\n\nNo hdf5 files found to be transferred.\n\nNo antennas iq plots found to be transferred.\n'))
  })
})

describe('transfer-cam-photos over a real sshd', () => {
  it('files photos by camera and date, mode 664, verified; every configured camera; undated names are quarantined with a reason', async () => {
    const {site, campus, configFile} = setup('cam')
    const p210 = put(site.at('cam'), '20231004.120000.sascam210.jpg')
    const p212 = put(site.at('cam'), '20231130.235959.sascam212.jpg')
    const p213 = put(site.at('cam'), '20240101.000000.sascam213.jpg')
    const undated = put(site.at('cam'), 'latest.sascam211.jpg')
    const other = put(site.at('cam'), 'notes.jpg')
    const {code, stdout, stderr} = await runCli(['transfer-cam-photos', '--config', configFile, '--json'])
    assert.equal(code, 3, stderr)
    const result = JSON.parse(stdout) as {succeeded: number; failed: number}
    assert.deepEqual([result.succeeded, result.failed], [3, 1])
    const dest = (cam: string, y: string, m: string, n: string) => campus.at('cam', 'sascam', `sascam${cam}`, y, m, n)
    assert.equal(readFileSync(dest('210', '2023', '10', '20231004.120000.sascam210.jpg'), 'utf8'), 'photo 20231004.120000.sascam210.jpg')
    assert.ok(existsSync(dest('212', '2023', '11', '20231130.235959.sascam212.jpg')), 'camera 212 gets its month directory too')
    assert.ok(existsSync(dest('213', '2024', '01', '20240101.000000.sascam213.jpg')), 'cameras come from the config')
    assert.equal(statSync(dest('210', '2023', '10', '20231004.120000.sascam210.jpg')).mode & 0o777, 0o664)
    for (const path of [p210, p212, p213]) assert.equal(existsSync(path), false)
    assert.ok(!existsSync(undated) && existsSync(site.at('quarantine', 'latest.sascam211.jpg')), 'a photo without a date in its name is quarantined')
    assert.match(readFileSync(site.at('quarantine', 'latest.sascam211.jpg.reason'), 'utf8'), /no valid YYYYMMDD date/)
    assert.ok(existsSync(other))
    const text = summary(site.at('logs'), 'transfer_cam_photos')
    assert.ok(text.includes(`\nTransferring: ${p210} to ${sshd.host.target}:${campus.at('cam', 'sascam', 'sascam210', '2023', '10')}/\nSuccessfully transferred: ${p210}\n`))
    assert.ok(text.includes(`Transfer failed: ${undated}\n`))
  })
})
