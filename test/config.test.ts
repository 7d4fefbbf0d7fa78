import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {CONFIG_DOCS} from '../src/lib/config/docs.js'
import {configTemplate} from '../src/lib/config/init.js'
import {envOverrides, loadConfig, maskSecrets, requireRadar, resolvePath} from '../src/lib/config/load.js'
import {defaultConfig, ROLES} from '../src/lib/config/schema.js'
import {ConfigError} from '../src/lib/errors.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())

function file(name: string, text: string): string {
  const path = join(sandbox.dir, name)
  writeFileSync(path, text)
  return path
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    return [...error.problems]
  }
  assert.fail('expected a ConfigError')
}

/** Every leaf key path of an object tree (arrays and nulls are leaves). */
function leafPaths(tree: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? leafPaths(value as Record<string, unknown>, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  )
}

describe('config', () => {
  it('defaults are the original paths and lists', () => {
    const config = defaultConfig()
    assert.deepEqual(config.validRadars, ['sas', 'pgr', 'inv', 'cly', 'rkn'])
    assert.deepEqual(config.cpids.distributed, [151, 3503, 157, 191])
    assert.equal(config.site.nasDataRoot, '/borealis_nfs/borealis_data')
    assert.equal(config.campus.dataDirectory, '/sddata/{radar}_data')
    assert.equal(config.hashAlgorithm, 'md5')
    assert.equal(config.hosts.telemetry, null)
  })

  it('applies defaults when the default file is absent, but an explicit missing file is an error', () => {
    const loaded = loadConfig({env: {}})
    assert.equal(loaded.source === null || loaded.source === '/etc/dataflow/config.yaml', true)
    const problems = (() => {
      try {
        loadConfig({file: join(sandbox.dir, 'missing.yaml'), env: {}})
      } catch (error) {
        return (error as Error).message
      }
      return ''
    })()
    assert.match(problems, /missing\.yaml: cannot read config file \(ENOENT\)/)
  })

  it('names the key path of unknown keys and wrong types, all in one report', () => {
    const path = file('bad.yaml', 'radar: sas\ntimeouts:\n  ioSecs: 5\n  sshConnectSeconds: "slow"\nhosts:\n  campus: {target: "a@b", porty: 1}\n')
    const problems = problemsOf(() => loadConfig({file: path, env: {}}))
    assert.ok(problems.includes('timeouts.ioSecs: unknown key'), problems.join('\n'))
    assert.ok(problems.some((p) => p.startsWith('timeouts.sshConnectSeconds: expected number')), problems.join('\n'))
    assert.ok(problems.includes('hosts.campus.porty: unknown key'), problems.join('\n'))
  })

  it('rejects radars outside validRadars and shell characters in host targets', () => {
    const path = file('radars.yaml', 'radar: xyz\nnasSites: [sas, abc]\nhosts:\n  campus: {target: "a@b;rm -rf /"}\n')
    const problems = problemsOf(() => loadConfig({file: path, env: {}}))
    assert.ok(problems.includes('radar: radar "xyz" is not in validRadars'), problems.join('\n'))
    assert.ok(problems.includes('nasSites.1: radar "abc" is not in validRadars'), problems.join('\n'))
    assert.ok(problems.some((p) => p.startsWith('hosts.campus.target:')), problems.join('\n'))
  })

  it('reports YAML syntax errors with the file name', () => {
    const path = file('syntax.yaml', 'radar: [sas\n')
    const problems = problemsOf(() => loadConfig({file: path, env: {}}))
    assert.ok(problems[0]?.startsWith(path), problems.join('\n'))
  })

  it('flags > DATAFLOW_* environment > file > defaults', () => {
    const path = file('layers.yaml', 'radar: sas\nhashAlgorithm: sha256\ntimeouts:\n  ioSeconds: 100\n')
    const env = {DATAFLOW_TIMEOUTS__IO_SECONDS: '200', DATAFLOW_RADAR: 'pgr', DATAFLOW_CPIDS__DISTRIBUTED: '[1, 2]'}
    const {config, source} = loadConfig({file: path, env, overrides: {radar: 'inv'}})
    assert.equal(source, path)
    assert.equal(config.hashAlgorithm, 'sha256')
    assert.equal(config.timeouts.ioSeconds, 200)
    assert.deepEqual(config.cpids.distributed, [1, 2])
    assert.equal(config.radar, 'inv')
  })

  it('reads $DATAFLOW_CONFIG and sets optional keys from the environment', () => {
    const path = file('env.yaml', 'radar: cly\n')
    const env = {DATAFLOW_CONFIG: path, DATAFLOW_HOSTS__TELEMETRY__TARGET: 'logman@127.0.0.1', DATAFLOW_HOSTS__TELEMETRY__PORT: '2222'}
    const {config} = loadConfig({env})
    assert.equal(config.radar, 'cly')
    assert.deepEqual(config.hosts.telemetry, {target: 'logman@127.0.0.1', port: 2222, bandwidthLimitKBps: 0})
  })

  it('unknown DATAFLOW_* variables are errors naming the variable', () => {
    assert.deepEqual(envOverrides({DATAFLOW_TIMEOUTS__NOPE: '1', DATAFLOW_CACHE_DIR: '/x', OTHER: 'y'}).problems, [
      'DATAFLOW_TIMEOUTS__NOPE: unknown configuration variable',
    ])
  })

  it('masks the Slack webhook', () => {
    const path = file('secret.yaml', 'alerts:\n  slackWebhook: https://hooks.slack.com/services/T000/B000/SECRET\n')
    const {config} = loadConfig({file: path, env: {}})
    const shown = JSON.stringify(maskSecrets(config))
    assert.doesNotMatch(shown, /SECRET/)
    assert.match(shown, /"slackWebhook":"\*{8}"/)
    assert.equal(config.alerts.slackWebhook, 'https://hooks.slack.com/services/T000/B000/SECRET')
  })

  it('documents every key', () => {
    const paths = leafPaths(defaultConfig())
    for (const path of [...paths, 'radar', 'borealis.configFile', 'alerts.slackWebhook']) {
      assert.ok(CONFIG_DOCS[path], `no doc for ${path}`)
    }
  })

  for (const role of ROLES) {
    it(`config init --role ${role} produces a config that validates as is`, () => {
      const path = file(`init-${role}.yaml`, configTemplate(role, 'sas'))
      const {config} = loadConfig({file: path, env: {}})
      assert.equal(config.radar, 'sas')
      assert.deepEqual({...config, radar: undefined}, {...defaultConfig(), radar: undefined})
    })
  }

  it('resolves ~ and {radar} and requires absolute paths', () => {
    assert.equal(resolvePath('~/logs', {home: '/home/radar'}), '/home/radar/logs')
    assert.equal(resolvePath('/sddata/{radar}_data', {radar: 'sas'}), '/sddata/sas_data')
    assert.throws(() => resolvePath('/sddata/{radar}_data'), /needs a radar id/)
    assert.throws(() => resolvePath('sddata/x'), /must be absolute/)
  })

  it('requireRadar checks validRadars', () => {
    const config = defaultConfig()
    assert.equal(requireRadar(config, 'sas'), 'sas')
    assert.throws(() => requireRadar(config, 'zzz'), /not one of validRadars/)
    assert.throws(() => requireRadar(config), /no radar id/)
  })
})
