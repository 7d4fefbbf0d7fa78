// distribute-borealis-data on a real campus directory tree with real fixture files: every routing
// branch, and nothing else moved.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, it} from 'node:test'
import YAML from 'yaml'

import {FIXTURES, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())
const B = join(FIXTURES, 'borealis')
const md5 = (path: string) => spawnSync('md5sum', ['--', path], {encoding: 'utf8'}).stdout.split(' ')[0]
const tree = (dir: string) => readdirSync(dir, {recursive: true}).map(String).filter((f) => statSync(join(dir, f)).isFile()).sort()

it('distribute-borealis-data routes valid, corrupt, unreadable, special and conflicting files; HDF5 partners follow', async () => {
  const campus = sandbox.host('campus')
  const data = campus.at('sddata', 'sas_data')
  mkdirSync(data, {recursive: true})
  const put = (from: string, name: string) => {
    copyFileSync(from, join(data, name))
    return join(data, name)
  }
  const good = put(join(B, '20231004.1400.00.sas.a.rawacf.bz2'), '20231004.1400.00.sas.a.rawacf.bz2')
  const goodH5 = put(join(B, '20231004.1400.00.sas.0.rawacf.h5'), '20231004.1400.00.sas.0.rawacf.h5')
  const badBz2 = put(join(FIXTURES, 'dmap', 'corrupt', 'test.rawacf.bz2.corrupt'), '20231004.1600.00.sas.b.rawacf.bz2')
  const badBz2H5 = put(join(B, '20231004.1400.00.pgr.1.rawacf.h5'), '20231004.1600.00.sas.1.rawacf.h5')
  const unreadable = join(data, '20231004.1800.00.sas.a.rawacf.bz2')
  writeFileSync(unreadable, spawnSync('bzip2', ['-c', join(FIXTURES, 'dmap', 'corrupt', 'test.rawacf.truncated')]).stdout)
  const special = put(join(B, '20231004.1400.51.rkn.d.rawacf.bz2'), '20231004.1400.51.sas.d.rawacf.bz2') // cp 197
  const specialH5 = put(join(B, '20231004.1400.51.rkn.3.rawacf.h5'), '20231004.1400.51.sas.3.rawacf.h5')
  const brokenH5 = join(data, '20231004.2000.00.sas.0.rawacf.h5')
  writeFileSync(brokenH5, readFileSync(join(B, '20231004.1400.00.sas.0.rawacf.h5')).subarray(0, 4096))
  const conflicted = put(join(B, '20231004.1400.00.sas.a.rawacf.bz2'), '20231004.2200.00.sas.a.rawacf.bz2')
  const vt = campus.at('outgoing', 'vt', 'sas')
  mkdirSync(vt, {recursive: true})
  writeFileSync(join(vt, '20231004.2200.00.sas.a.rawacf.bz2'), 'a different file of the same name')
  const sums = {good: md5(good), goodH5: md5(goodH5), special: md5(special)}

  const configFile = campus.at('config.yaml')
  writeFileSync(
    configFile,
    YAML.stringify({
      logging: {directory: campus.at('logs')},
      state: {directory: campus.at('state')},
      campus: {
        dataDirectory: campus.at('sddata', '{radar}_data'),
        conversionFailureDirectory: campus.at('sddata', 'conversion_failure'),
        specialExperimentsDirectory: campus.at('sddata', 'special_experiments'),
        archiveRoot: campus.at('borealis_site_data'),
        staging: [
          {name: 'vt', path: campus.at('outgoing', 'vt', '{radar}'), group: 'root', mode: '664'},
          {name: 'bas', path: campus.at('outgoing', 'bas', '{radar}'), mode: '660'},
          {name: 'mirror', path: campus.at('holding', 'globus')},
        ],
      },
    }),
  )
  const {code, stdout, stderr} = await runCli(['distribute-borealis-data', '--radar', 'sas', '--config', configFile, '--json'], {timeoutMs: 120_000})
  assert.equal(code, 3, stderr)
  const result = JSON.parse(stdout) as {succeeded: number; failed: number}
  // good DMAP, good HDF5, special DMAP, the special experiment's HDF5 (archived like any other)
  assert.deepEqual([result.succeeded, result.failed], [4, 4])

  const at = (...p: string[]) => campus.at(...p)
  // Valid: staged three times (group, mode), archived by the name's year/month; its HDF5 archived.
  for (const copy of [at('outgoing', 'vt', 'sas'), at('outgoing', 'bas', 'sas'), at('holding', 'globus')]) {
    assert.equal(md5(join(copy, '20231004.1400.00.sas.a.rawacf.bz2')), sums.good)
  }
  assert.equal(statSync(at('outgoing', 'bas', 'sas', '20231004.1400.00.sas.a.rawacf.bz2')).mode & 0o777, 0o660)
  assert.equal(statSync(at('outgoing', 'vt', 'sas', '20231004.1400.00.sas.a.rawacf.bz2')).gid, 0)
  assert.equal(md5(at('borealis_site_data', 'sas_rawacf_dmap', '2023', '10', '20231004.1400.00.sas.a.rawacf.bz2')), sums.good)
  assert.equal(md5(at('borealis_site_data', 'sas_rawacf', '2023', '10', '20231004.1400.00.sas.0.rawacf.h5')), sums.goodH5)
  // Corrupt bzip2 and unreadable DMAP: to the failure directory with a reason; the .h5 partner goes too
  // (docs/design.md#failure-partner-left-behind).
  const failed = at('sddata', 'conversion_failure')
  for (const name of ['20231004.1600.00.sas.b.rawacf.bz2', '20231004.1600.00.sas.1.rawacf.h5', '20231004.1800.00.sas.a.rawacf.bz2', '20231004.2000.00.sas.0.rawacf.h5']) {
    assert.ok(existsSync(join(failed, name)), name)
    assert.match(readFileSync(join(failed, `${name}.reason`), 'utf8'), /^\d{4}-.*\S/)
  }
  // Special experiment: the DMAP file is not staged and goes to special_experiments/; its HDF5
  // partner is archived in <rad>_rawacf/YYYY/MM/ like every HDF5 file, where the original put it.
  assert.equal(md5(at('sddata', 'special_experiments', '2023', '10', '20231004.1400.51.sas.d.rawacf.bz2')), sums.special)
  assert.ok(existsSync(at('borealis_site_data', 'sas_rawacf', '2023', '10', '20231004.1400.51.sas.3.rawacf.h5')))
  assert.equal(existsSync(at('sddata', 'special_experiments', '2023', '10', '20231004.1400.51.sas.3.rawacf.h5')), false)
  // Staging conflict: an error, never an overwrite; the file stays in the data directory.
  assert.equal(readFileSync(join(vt, '20231004.2200.00.sas.a.rawacf.bz2'), 'utf8'), 'a different file of the same name')
  assert.ok(existsSync(conflicted))
  assert.equal(existsSync(at('borealis_site_data', 'sas_rawacf_dmap', '2023', '10', '20231004.2200.00.sas.a.rawacf.bz2')), false)
  // Nothing else moved: the data directory holds exactly the conflicted file.
  assert.deepEqual(tree(data), ['20231004.2200.00.sas.a.rawacf.bz2'])
  for (const gone of [good, goodH5, badBz2, badBz2H5, unreadable, special, specialH5, brokenH5]) assert.equal(existsSync(gone), false)

  const summaryDir = at('logs', 'distribute_borealis_data', 'summary')
  const text = readFileSync(join(summaryDir, tree(summaryDir)[0]!), 'utf8')
  for (const line of [
    `Distributing from: ${data}`,
    `File distribution successful: ${good}`,
    `DMAP file failed bzip2 test: ${badBz2}`,
    `DMAP integrity test failed: ${unreadable}`,
    `File with CPID 197 will not be distributed: ${special}`,
    `File distribution failed: ${conflicted}`,
    `HDF5 file failed h5stat test: ${brokenH5}`,
    `File distribution successful: ${goodH5}`,
  ]) {
    assert.ok(text.includes(`${line}\n`), `summary lacks: ${line}\n${text}`)
  }
})
