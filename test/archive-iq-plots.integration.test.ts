// archive-iq-plots on a real campus directory tree, through the CLI.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, it} from 'node:test'
import YAML from 'yaml'

import {runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())

const pad = (n: number) => String(n).padStart(2, '0')
function plotName(time: Date, antenna = 0): string {
  const d = `${time.getUTCFullYear()}${pad(time.getUTCMonth() + 1)}${pad(time.getUTCDate())}`
  return `${d}.${pad(time.getUTCHours())}${pad(time.getUTCMinutes())}.00.sas.0.antennas_iq.antenna_${antenna}_0_70.jpg`
}

it('archive-iq-plots moves plots older than 24 h (UTC name time) into their own YYYY/MM, keeps newer ones, quarantines undated ones with a reason', async () => {
  const campus = sandbox.host('campus')
  const plots = campus.at('sddata', 'antennas_iq_plots', 'sas_iq_plots')
  const archive = campus.at('archive-root')
  mkdirSync(plots, {recursive: true})
  const now = Date.now()
  const names = {
    old: plotName(new Date('2023-10-04T14:00:00Z')),
    lastMonth: plotName(new Date('2023-09-30T23:59:00Z'), 3),
    // 23 h old in UTC: the original read the name in a -7 h military zone and compared strings.
    recent: plotName(new Date(now - 23 * 3600_000)),
    justOld: plotName(new Date(now - 25 * 3600_000), 1),
  }
  for (const name of Object.values(names)) writeFileSync(join(plots, name), `jpeg ${name}`)
  writeFileSync(join(plots, 'weird.jpg'), 'no time in this name')
  const configFile = campus.at('config.yaml')
  writeFileSync(
    configFile,
    YAML.stringify({
      logging: {directory: campus.at('logs')},
      state: {directory: campus.at('state')},
      campus: {plotsDirectory: campus.at('sddata', 'antennas_iq_plots', '{radar}_iq_plots'), plotsArchiveDirectory: archive, conversionFailureDirectory: campus.at('failure')},
    }),
  )
  const dry = await runCli(['archive-iq-plots', '--radar', 'sas', '--config', configFile, '--dry-run'])
  assert.equal(existsSync(archive), false, dry.stderr)

  const {code, stderr} = await runCli(['archive-iq-plots', '--radar', 'sas', '--config', configFile])
  assert.equal(code, 3, stderr) // the undated plot is reported
  const justOld = new Date(now - 25 * 3600_000)
  assert.equal(readFileSync(join(archive, '2023', '10', names.old), 'utf8'), `jpeg ${names.old}`)
  assert.ok(existsSync(join(archive, '2023', '09', names.lastMonth)), "each plot goes to its own month's directory, created as needed")
  assert.ok(existsSync(join(archive, String(justOld.getUTCFullYear()), pad(justOld.getUTCMonth() + 1), names.justOld)))
  assert.ok(existsSync(join(plots, names.recent)), 'younger than 24 h stays')
  assert.ok(!existsSync(join(plots, 'weird.jpg')) && existsSync(campus.at('failure', 'weird.jpg')), 'an undated name is quarantined, never moved into the archive root')
  assert.match(readFileSync(campus.at('failure', 'weird.jpg.reason'), 'utf8'), /not an antennas_iq plot name/)
  assert.equal(readdirSync(archive).filter((f) => f.endsWith('.jpg')).length, 0)
  for (const name of [names.old, names.lastMonth, names.justOld]) assert.equal(existsSync(join(plots, name)), false)
  const summaryDir = campus.at('logs', 'archive_iq', 'summary')
  const file = readdirSync(summaryDir, {recursive: true}).map(String).find((f) => /sas\.\d{8}\.archive_iq\.log$/.test(f))!
  const text = readFileSync(join(summaryDir, file), 'utf8')
  assert.ok(text.includes(`Successfully archived: ${join(plots, names.old)}\n`))
  assert.ok(text.includes(`Archiving failed: ${join(plots, 'weird.jpg')}\n`))
  assert.match(text, /Finished archive_iq_plots\. End time: /)
})
