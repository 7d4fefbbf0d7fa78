// install-service: the pure unit builder, the per-role writable paths, and the command run as a
// child process whose output is checked by systemd itself (systemd-analyze verify / security).
//
// About users: the units name radar, transfer and dataman, which do not exist on a test machine.
// systemd-analyze verify (checked with systemd 252) does not resolve User=, so the default users
// are kept; verify still checks every directive, specifier, quoted path, and that ExecStart is an
// executable file, which is why --binary points at a real executable (a copy of /bin/true).
import assert from 'node:assert/strict'
import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {defaultConfig, type Role, ROLES} from '../src/lib/config/schema.js'
import {ConfigError, UsageError} from '../src/lib/errors.js'
import {run} from '../src/lib/exec.js'
import {buildUnit, enableHint, resolveServiceBinary, type UnitInput} from '../src/lib/systemd/units.js'
import {roleWritePaths} from '../src/roles/layout.js'
import {serviceUnitForRole} from '../src/roles/paths.js'
import {runCli} from './helpers/cli.js'
import {makeSandbox} from './helpers/hosts.js'

const sandbox = makeSandbox('dataflow-install-service-')
after(() => sandbox.cleanup())

/** A real executable in a directory whose name needs quoting (blank) and escaping (%). */
const binDir = join(sandbox.dir, 'bin dir 100%')
mkdirSync(binDir)
const BINARY = join(binDir, 'dataflow')
copyFileSync('/bin/true', BINARY)

const MAX_EXPOSURE = 3.0

function input(over: Partial<UnitInput> = {}): UnitInput {
  return {
    role: 'borealis',
    user: 'radar',
    binaryPath: '/usr/local/bin/dataflow',
    configFile: '/etc/dataflow/config.yaml',
    readWritePaths: ['/home/radar/logs', '/data/borealis_data'],
    ...over,
  }
}

/** Directive lines (comments and blanks dropped). */
function directives(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'))
}

function directive(text: string, key: string): string[] {
  return directives(text)
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1))
}

function throwsKind(fn: () => unknown, kind: typeof ConfigError | typeof UsageError, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof kind && pattern.test((error as Error).message))
}

async function verify(file: string): Promise<string> {
  const result = await run(['systemd-analyze', 'verify', file], {okCodes: [0, 1], timeoutMs: 60_000})
  assert.equal(result.code, 0, `systemd-analyze verify ${file}: ${result.stderr}`)
  return `${result.stdout}${result.stderr}`.trim()
}

async function exposure(file: string): Promise<number> {
  const result = await run(['systemd-analyze', 'security', '--offline=true', file], {okCodes: [0, 1], timeoutMs: 60_000})
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(result.stdout)
  assert.ok(match, `no exposure level in:\n${result.stdout}\n${result.stderr}`)
  return Number(match[1])
}

describe('buildUnit', () => {
  const REQUIRED: Array<[string, string]> = [
    ['After', 'network-online.target'],
    ['Wants', 'network-online.target'],
    ['Type', 'notify'],
    ['NotifyAccess', 'all'],
    ['WatchdogSec', '300'],
    ['Restart', 'on-failure'],
    ['RestartSec', '10'],
    ['KillMode', 'mixed'],
    ['KillSignal', 'SIGTERM'],
    ['TimeoutStopSec', '120'],
    ['UMask', '0002'],
    ['WorkingDirectory', '~'],
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'read-only'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['ProtectClock', 'yes'],
    ['ProtectHostname', 'yes'],
    ['ProtectProc', 'invisible'],
    ['ProcSubset', 'pid'],
    ['RestrictNamespaces', 'yes'],
    ['RestrictRealtime', 'yes'],
    ['RestrictSUIDSGID', 'yes'],
    ['LockPersonality', 'yes'],
    ['SystemCallArchitectures', 'native'],
    ['SystemCallFilter', '@system-service @pkey'],
    ['CapabilityBoundingSet', ''],
    ['AmbientCapabilities', ''],
    ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'],
    ['WantedBy', 'multi-user.target'],
  ]

  for (const role of ROLES) {
    it(`${role}: every required directive, and none that breaks Node`, () => {
      const {text} = buildUnit(input({role}))
      for (const [key, value] of REQUIRED) assert.deepEqual(directive(text, key), [value], key)
      assert.equal(directive(text, 'Documentation').length, 1)
      assert.equal(directive(text, 'SyslogIdentifier').length, 1)
      assert.deepEqual(directive(text, 'Environment'), ['DATAFLOW_CONFIG=/etc/dataflow/config.yaml', 'DATAFLOW_CACHE_DIR=/var/cache/dataflow'])
      // Never set (Node's JIT), but the reason is written down for operators.
      for (const key of ['MemoryDenyWriteExecute', 'PrivateUsers', 'IPAddressDeny', 'PrivateNetwork']) {
        assert.deepEqual(directive(text, key), [], key)
      }
      assert.match(text, /^# MemoryDenyWriteExecute=yes: Node's JIT .*crashes/m)
      assert.match(text, /^# PrivateUsers=yes: .*chgrp/m)
      assert.match(text, /^\[Unit\]$/m)
      assert.match(text, /^\[Service\]$/m)
      assert.match(text, /^\[Install\]$/m)
    })
  }

  it('names the unit and the command per role; campus is a template with the radar as instance', () => {
    const borealis = buildUnit(input())
    assert.equal(borealis.fileName, 'dataflow-borealis.service')
    assert.deepEqual(directive(borealis.text, 'ExecStart'), ['/usr/local/bin/dataflow daemon --role borealis'])
    assert.deepEqual(directive(borealis.text, 'User'), ['radar'])

    const site = buildUnit(input({role: 'site-linux', user: 'transfer', radar: 'inv'}))
    assert.equal(site.fileName, 'dataflow-site-linux.service')
    assert.deepEqual(directive(site.text, 'ExecStart'), ['/usr/local/bin/dataflow daemon --role site-linux --radar inv'])

    const campus = buildUnit(input({role: 'campus', user: 'dataman', radar: 'sas', readWritePaths: ['/sddata/{radar}_data']}))
    assert.equal(campus.fileName, 'dataflow-campus@.service')
    assert.deepEqual(directive(campus.text, 'ExecStart'), ['/usr/local/bin/dataflow daemon --role campus --radar %i'])
    assert.deepEqual(directive(campus.text, 'SyslogIdentifier'), ['dataflow-campus-%i'])
    assert.deepEqual(directive(campus.text, 'ReadWritePaths'), ['-/sddata/%i_data'])
  })

  it('prefixes every writable path with "-", quotes blanks and escapes %', () => {
    const {text} = buildUnit(
      input({
        binaryPath: '/opt/data flow/100%/dataflow',
        configFile: '/etc/data flow/config.yaml',
        readWritePaths: ['/a', '/with blank', '/per%cent', '/quote"d'],
        readOnlyPaths: ['/etc/borealis'],
      }),
    )
    assert.deepEqual(directive(text, 'ExecStart'), ['"/opt/data flow/100%%/dataflow" daemon --role borealis'])
    assert.deepEqual(directive(text, 'ReadWritePaths'), ['-/a "-/with blank" -/per%%cent "-/quote\\"d"'])
    assert.deepEqual(directive(text, 'ReadOnlyPaths'), ['-/etc/borealis'])
    assert.equal(directive(text, 'Environment')[0], '"DATAFLOW_CONFIG=/etc/data flow/config.yaml"')
  })

  it('refuses values that would inject lines or start another program', () => {
    throwsKind(() => buildUnit(input({readWritePaths: ['/a\nExecStartPre=/bin/evil']})), ConfigError, /control character/)
    throwsKind(() => buildUnit(input({user: 'radar\n'})), ConfigError, /control character/)
    throwsKind(() => buildUnit(input({binaryPath: 'dataflow'})), UsageError, /absolute/)
    throwsKind(() => buildUnit(input({binaryPath: '/opt/$HOME/dataflow'})), UsageError, /\$/)
    throwsKind(() => buildUnit(input({readWritePaths: ['/sddata/{radar}_data']})), ConfigError, /\{radar\}/)
  })

  it('gives the enable command: per radar for campus', () => {
    assert.equal(enableHint('campus', 'sas'), 'systemctl enable --now dataflow-campus@sas.service')
    assert.equal(enableHint('campus'), null)
    assert.equal(enableHint('borealis'), 'systemctl enable --now dataflow-borealis.service')
  })
})

describe('roleWritePaths (the role layout\'s write set)', () => {
  const config = defaultConfig()

  it('borealis: logs, state, data, failures, flags, and the NAS for NAS sites; ~ is the service user\'s home', () => {
    assert.deepEqual(roleWritePaths(config, 'borealis', 'sas', {home: '/srv/radar'}), [
      '/srv/radar/logs',
      '/srv/radar/.local/state/dataflow',
      '/data/borealis_data',
      '/data/borealis_quarantine',
      '/borealis_nfs/borealis_data',
      '/srv/radar/data_flow/.inotify_flags',
    ])
    const noNas = {...config, nasSites: ['pgr']}
    assert.ok(!roleWritePaths(noNas, 'borealis', 'sas', {home: '/h'}).includes('/borealis_nfs/borealis_data'))
  })

  it('site-linux: NAS or local data root by radar, cameras, plots, watch and flag directories', () => {
    const nas = roleWritePaths(config, 'site-linux', 'sas', {home: '/home/transfer'})
    assert.deepEqual(nas, [
      '/home/transfer/logs',
      '/home/transfer/.local/state/dataflow',
      '/borealis_nfs/borealis_data',
      '/home/transfer/logs/daily_plots',
      '/home/transfer/data_flow/quarantine',
      '/borealis_nfs/cam',
      '/home/transfer/data_flow/.inotify_watchdir',
      '/home/transfer/data_flow/.inotify_flags',
    ])
    const local = roleWritePaths({...config, nasSites: []}, 'site-linux', 'sas', {home: '/home/transfer'})
    assert.ok(local.includes('/data/borealis_data') && !local.includes('/borealis_nfs/borealis_data'))
    // No radar: the union over validRadars, each with its own data root.
    const unknown = roleWritePaths({...config, nasSites: ['sas']}, 'site-linux', undefined, {home: '/home/transfer'})
    assert.ok(unknown.includes('/data/borealis_data') && unknown.includes('/borealis_nfs/borealis_data'))
  })

  it('campus: {radar} stays for the template instance, or is the given radar; staging targets included', () => {
    const template = roleWritePaths(config, 'campus', undefined, {home: '/home/dataman'})
    assert.ok(template.includes('/sddata/{radar}_data'))
    assert.ok(template.includes('/home/vtsd/outgoing/{radar}'))
    assert.ok(template.includes('/data/holding/globus'))
    assert.ok(template.includes('/data/borealis_site_data'))
    assert.ok(template.includes('/home/dataman/data_flow/.inotify_watchdir'))
    const sas = roleWritePaths(config, 'campus', 'sas', {home: '/home/dataman'})
    assert.ok(sas.includes('/sddata/sas_holding_dir'))
    assert.ok(sas.every((p: string) => p.startsWith('/') && !p.includes('{radar}')))
    assert.equal(new Set(sas).size, sas.length)
  })

  it('a non-template unit without a radar covers every valid radar', () => {
    const perRadar = {...config, logging: {...config.logging, directory: '/var/log/dataflow/{radar}'}}
    const paths = roleWritePaths(perRadar, 'borealis', undefined, {home: '/home/radar'})
    for (const id of config.validRadars) assert.ok(paths.includes(`/var/log/dataflow/${id}`), id)
  })

  it('serviceUnitForRole checks --radar against validRadars and lists the directories to check on this host', () => {
    const options = {role: 'campus' as Role, user: 'dataman', home: '/home/dataman', binaryPath: '/bin/true', configFile: '/etc/dataflow/config.yaml'}
    throwsKind(() => serviceUnitForRole(config, {...options, radar: 'xyz'}), ConfigError, /validRadars/)
    const sas = serviceUnitForRole(config, {...options, radar: 'sas'})
    assert.match(sas.unit.text, /ReadWritePaths=.*-\/sddata\/%i_data /)
    assert.ok(sas.directories.includes('/sddata/sas_data'))
    const template = serviceUnitForRole(config, options)
    assert.ok(template.directories.includes('/data/holding/globus'))
    assert.ok(template.directories.every((path) => !path.includes('{radar}')))
  })
})

describe('resolveServiceBinary', () => {
  it('accepts an absolute executable; refuses relative, missing and non-executable paths', async () => {
    assert.equal(await resolveServiceBinary(BINARY, false), BINARY)
    await assert.rejects(resolveServiceBinary('bin/dataflow', false), /absolute/)
    await assert.rejects(resolveServiceBinary(join(sandbox.dir, 'missing'), false), /does not exist/)
    const plain = join(sandbox.dir, 'not-executable')
    writeFileSync(plain, '')
    await assert.rejects(resolveServiceBinary(plain, false), /not executable/)
    await assert.rejects(resolveServiceBinary(undefined, false), /--binary/)
    assert.equal(await resolveServiceBinary(undefined, true), process.execPath)
  })
})

describe('dataflow install-service (child process, checked by systemd-analyze)', () => {
  for (const role of ROLES) {
    it(`${role}: writes a unit that verifies cleanly and scores ≤ ${MAX_EXPOSURE}`, async (t) => {
      const dir = join(sandbox.dir, `units-${role}`)
      const result = await runCli(['install-service', '--role', role, '--binary', BINARY, '--output-dir', dir])
      assert.equal(result.code, 0, result.stderr)
      const fileName = role === 'campus' ? 'dataflow-campus@.service' : `dataflow-${role}.service`
      const file = join(dir, fileName)
      assert.equal(result.stdout.trim(), file)
      assert.deepEqual(readdirSync(dir), [fileName])
      const text = readFileSync(file, 'utf8')
      assert.match(text, /^ExecStart="[^"]*\/bin dir 100%%\/dataflow" daemon --role /m)

      assert.equal(await verify(file), '', 'systemd-analyze verify printed warnings')
      const score = await exposure(file)
      t.diagnostic(`${fileName}: exposure ${score}`)
      assert.ok(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}`)

      if (role === 'campus') {
        // An instance, as systemctl enable would make it: %i becomes the radar.
        const instance = join(dir, 'dataflow-campus@sas.service')
        writeFileSync(instance, text)
        assert.equal(await verify(instance), '')
      }
    })
  }

  it('campus without --output-dir prints the template with --radar %i, and the enable hint for --radar', async () => {
    const {code, stdout, stderr} = await runCli(['install-service', '--role', 'campus', '--radar', 'sas', '--binary', BINARY])
    assert.equal(code, 0, stderr)
    assert.match(stdout, /^# dataflow-campus@\.service: /)
    assert.match(stdout, /^ExecStart=.* daemon --role campus --radar %i$/m)
    assert.match(stdout, /^User=dataman$/m)
    assert.match(stderr, /systemctl enable --now dataflow-campus@sas\.service/)
  })

  it('--json returns the units, the hint and the missing directories; --config is the file the unit names', async () => {
    const logs = join(sandbox.dir, 'campus-logs')
    const state = join(sandbox.dir, 'campus-state')
    mkdirSync(logs)
    const config = join(sandbox.dir, 'site.yaml')
    writeFileSync(config, `radar: sas\nlogging:\n  directory: ${logs}\nstate:\n  directory: ${state}\n`)
    const {code, stdout, stderr} = await runCli([
      'install-service', '--role', 'campus', '--radar', 'sas', '--binary', BINARY, '--config', config, '--json', '--user', 'root',
    ])
    assert.equal(code, 0, stderr)
    const out = JSON.parse(stdout) as {
      units: Array<{fileName: string; path?: string; text: string}>
      hint: string | null
      missingDirectories: string[]
    }
    assert.equal(out.hint, 'systemctl enable --now dataflow-campus@sas.service')
    assert.equal(out.units.length, 1)
    const [unit] = out.units
    assert.equal(unit!.fileName, 'dataflow-campus@.service')
    assert.equal(unit!.path, undefined)
    assert.match(unit!.text, new RegExp(`^Environment=DATAFLOW_CONFIG=${config}$`, 'm'))
    assert.match(unit!.text, /^User=root$/m)
    assert.match(unit!.text, new RegExp(`^ReadWritePaths=-${logs} -${state} -/sddata/%i_data `, 'm'))
    // Campus sends no flag, so no flags directory; the watch directory is the last entry.
    assert.match(unit!.text, / -\/home\/dataman\/data_flow\/\.inotify_watchdir$/m)
    assert.doesNotMatch(unit!.text, /inotify_flags/)
    // Checked for the --radar given: the sandbox cannot create what is missing.
    assert.ok(out.missingDirectories.includes(state))
    assert.ok(out.missingDirectories.includes('/sddata/sas_data'))
    assert.ok(!out.missingDirectories.includes(logs))
  })

  it('--dry-run prints what would be written and writes nothing', async () => {
    const dir = join(sandbox.dir, 'dry')
    const {code, stdout, stderr} = await runCli(['install-service', '--role', 'borealis', '--binary', BINARY, '--output-dir', dir, '--dry-run'])
    assert.equal(code, 0, stderr)
    assert.match(stderr, new RegExp(`would write ${join(dir, 'dataflow-borealis.service')}`))
    assert.match(stdout, /^ExecStart=.* daemon --role borealis$/m)
    assert.equal(existsSync(dir), false)
  })

  it('a relative or missing --binary, or none under node, is a usage error (exit 2); so is an unknown radar', async () => {
    const relative = await runCli(['install-service', '--role', 'borealis', '--binary', 'bin/dataflow'])
    assert.equal(relative.code, 2)
    assert.match(relative.stderr, /--binary "bin\/dataflow" must be an absolute path/)
    const missing = await runCli(['install-service', '--role', 'borealis', '--binary', join(sandbox.dir, 'nope')])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /does not exist/)
    const none = await runCli(['install-service', '--role', 'borealis'])
    if (process.env.DATAFLOW_BINARY) {
      // The single executable names itself.
      assert.equal(none.code, 0, none.stderr)
      assert.ok(none.stdout.includes(`ExecStart=${realpathSync(process.env.DATAFLOW_BINARY)} daemon --role borealis\n`))
    } else {
      assert.equal(none.code, 2)
      assert.match(none.stderr, /pass --binary/)
    }
    const radar = await runCli(['install-service', '--role', 'campus', '--radar', 'xyz', '--binary', BINARY])
    assert.equal(radar.code, 2)
    assert.equal(radar.stdout, '')
  })
})
