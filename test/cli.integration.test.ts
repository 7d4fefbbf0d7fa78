// The CLI as operators and systemd call it: a child process, real files, exit codes.
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {COMMANDS} from '../src/commands/index.js'
import {REPO, runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox()
after(() => sandbox.cleanup())

describe('dataflow CLI', () => {
  it('--help lists the topics, commands and the exit-code table', async () => {
    const {code, stdout} = await runCli(['--help'])
    assert.equal(code, 0)
    for (const text of ['EXIT CODES', 'config', 'names', '130  interrupted', '3    some files failed']) {
      assert.ok(stdout.includes(text), `--help lacks "${text}":\n${stdout}`)
    }
  })

  it('config validate: an unknown key and a wrong type exit 2 and name both key paths', async () => {
    const file = join(sandbox.dir, 'bad.yaml')
    writeFileSync(file, 'radar: sas\ntelemetry:\n  directroy: /x\nretry:\n  attempts: many\n')
    const {code, stderr} = await runCli(['config', 'validate', '--config', file])
    assert.equal(code, 2)
    assert.match(stderr, /telemetry\.directroy: unknown key/)
    assert.match(stderr, /retry\.attempts: expected number, received string/)
    assert.match(stderr, new RegExp(`^dataflow: invalid configuration \\(${file}\\): 2 problems`, 'm'))
  })

  it('config validate --json reports the problems as JSON', async () => {
    const {code, stdout} = await runCli(['config', 'validate', '--json'], {env: {DATAFLOW_HASH_ALGORITHM: 'crc32'}})
    assert.equal(code, 2)
    const parsed = JSON.parse(stdout) as {error: {exitCode: number; problems: string[]}}
    assert.equal(parsed.error.exitCode, 2)
    assert.match(parsed.error.problems[0]!, /^hashAlgorithm: /)
  })

  it('config show --json is valid JSON with the webhook masked', async () => {
    const file = join(sandbox.dir, 'secret.yaml')
    writeFileSync(file, 'radar: sas\nalerts:\n  slackWebhook: https://hooks.slack.com/services/T1/B2/TOPSECRET\n')
    const {code, stdout, stderr} = await runCli(['config', 'show', '--json', '--config', file])
    assert.equal(code, 0, stderr)
    const parsed = JSON.parse(stdout) as {source: string; config: {radar: string; alerts: {slackWebhook: string}}}
    assert.equal(parsed.source, file)
    assert.equal(parsed.config.radar, 'sas')
    assert.equal(parsed.config.alerts.slackWebhook, '********')
    assert.doesNotMatch(stdout + stderr, /TOPSECRET/)
  })

  it('config init --role writes a file that config validate accepts, and refuses to overwrite it', async () => {
    const file = join(sandbox.dir, 'init', 'campus.yaml')
    assert.equal((await runCli(['config', 'init', '--role', 'campus', '--output', file])).code, 0)
    const validate = await runCli(['config', 'validate', '--config', file])
    assert.equal(validate.code, 0, validate.stderr)
    const again = await runCli(['config', 'init', '--role', 'campus', '--output', file])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists/)
    const dry = await runCli(['config', 'init', '--role', 'borealis', '--output', join(sandbox.dir, 'init', 'dry.yaml'), '--dry-run'])
    assert.equal(dry.code, 0)
    assert.throws(() => readFileSync(join(sandbox.dir, 'init', 'dry.yaml')))
  })

  it('names dmap / borealis map names and exit 3 when one input is bad', async () => {
    const ok = await runCli(['names', 'dmap', '/sddata/sas_holding_dir/20231004.1400.00.sas.0.rawacf.h5'])
    assert.equal(ok.stdout.trim(), '/sddata/sas_holding_dir/20231004.1400.00.sas.a.rawacf.bz2')
    const bad = await runCli(['names', 'borealis', '--json', '20231004.1400.00.pgr.b.rawacf.bz2', 'notes.txt'])
    assert.equal(bad.code, 3)
    const parsed = JSON.parse(bad.stdout) as Array<{output?: string; error?: string}>
    assert.equal(parsed[0]!.output, '20231004.1400.00.pgr.1.rawacf.h5')
    assert.match(parsed[1]!.error!, /^notes\.txt: not a DMAP rawacf file name/)
  })

  it('names check-timestamp reads mtimes and exits 3 for a skewed file', async () => {
    const file = join(sandbox.dir, '20231004.1400.00.sas.0.rawacf.h5')
    writeFileSync(file, 'x')
    const {code, stdout} = await runCli(['names', 'check-timestamp', file])
    assert.equal(code, 3)
    assert.match(stdout, /^FAILED /)
  })

  it('usage errors exit 2', async () => {
    assert.equal((await runCli(['config', 'show', '--no-such-flag'])).code, 2)
    assert.equal((await runCli(['no-such-command'])).code, 2)
  })

  it('the command surface matches the snapshot (update test/snapshots/commands.json deliberately)', () => {
    const surface = Object.fromEntries(
      Object.entries(COMMANDS)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([id, command]) => [
          id,
          {
            flags: Object.keys({...(command.baseFlags ?? {}), ...(command.flags ?? {})}).concat(command.enableJsonFlag ? ['json'] : []).sort(),
            args: Object.keys(command.args ?? {}),
          },
        ]),
    )
    const path = join(REPO, 'test', 'snapshots', 'commands.json')
    if (process.env.UPDATE_SNAPSHOTS) writeFileSync(path, `${JSON.stringify(surface, null, 2)}\n`)
    assert.deepEqual(surface, JSON.parse(readFileSync(path, 'utf8')))
  })
})
