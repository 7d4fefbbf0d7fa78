import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {describe, it} from 'node:test'

import {BugError, ConfigError} from '../src/lib/errors.js'
import {
  classifyRsyncExit,
  remotePath,
  rsyncRemoteShell,
  shellQuote,
  type SshHost,
  sshCommand,
  sshOptions,
} from '../src/lib/transport/ssh-args.js'

const FULL: SshHost = {target: 'logman@sdc-serv', port: 2222, identityFile: '/home/transfer/.ssh/id_ed25519', knownHostsFile: '/etc/dataflow/known_hosts'}
const COMMON_TAIL = ['-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3']

/** Names that break naive quoting, as they could appear in a remote path. */
const AWKWARD_NAMES = [
  'plain.rawacf.bz2',
  'with space.h5',
  "it's quoted",
  'double "quoted"',
  '$HOME and ${PATH} and $(id) and `id`',
  'semi; rm -rf / ; echo',
  'line1\nline2',
  "'",
  "''",
  '\\back\\slash\\',
  '*.glob?[ab]',
  '-n',
  '',
  'tab\there | pipe & amp > gt < lt # hash ~tilde !bang',
  'ünïcødé ✓',
]

describe('ssh-args: sshOptions', () => {
  const table: Array<{name: string; host: SshHost; opts: Parameters<typeof sshOptions>[1]; want: string[]}> = [
    {
      name: 'identity, known_hosts and batch (default)',
      host: FULL,
      opts: {connectTimeoutSeconds: 15},
      want: [
        '-p', '2222',
        '-i', '/home/transfer/.ssh/id_ed25519', '-o', 'IdentitiesOnly=yes',
        '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=yes',
        '-o', 'UserKnownHostsFile=/etc/dataflow/known_hosts',
        '-o', 'ConnectTimeout=15',
        ...COMMON_TAIL,
      ],
    },
    {
      name: 'no identity, no known_hosts, default port: only what is given',
      host: {target: 'dataman@sdc-serv.usask.ca'},
      opts: {connectTimeoutSeconds: 10},
      want: ['-p', '22', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', ...COMMON_TAIL],
    },
    {
      name: 'batch off, fractional timeout rounded up, control path appended',
      host: {target: 'sdc-serv', port: 22},
      opts: {connectTimeoutSeconds: 0.2, batch: false, controlPath: '/run/user/1000/dataflow-%C'},
      want: ['-p', '22', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=1', ...COMMON_TAIL, '-o', 'ControlPath=/run/user/1000/dataflow-%C'],
    },
  ]
  for (const row of table) {
    it(row.name, () => assert.deepEqual(sshOptions(row.host, row.opts), row.want))
  }

  const refused: Array<{name: string; host: SshHost; key: RegExp}> = [
    {name: 'identity path with a space', host: {...FULL, identityFile: '/home/my keys/id'}, key: /^hosts\.telemetry\.identityFile: /},
    {name: 'known_hosts path with a tab', host: {...FULL, knownHostsFile: '/etc/known\thosts'}, key: /^hosts\.telemetry\.knownHostsFile: /},
    {name: 'identity path with a quote', host: {...FULL, identityFile: "/home/o'brien/id"}, key: /identityFile/},
    {name: 'known_hosts with a % token', host: {...FULL, knownHostsFile: '/etc/%u/known_hosts'}, key: /knownHostsFile/},
    {name: 'identity with ${VAR}', host: {...FULL, identityFile: '/home/${USER}/id'}, key: /identityFile/},
    {name: 'relative identity path', host: {...FULL, identityFile: 'id_ed25519'}, key: /identityFile: .*must be absolute/},
    {name: 'target that ssh would read as an option', host: {target: '-oProxyCommand'}, key: /^hosts\.telemetry\.target: /},
    {name: 'target with shell characters', host: {target: 'user@host;id'}, key: /target/},
    {name: 'port out of range', host: {target: 'h', port: 70000}, key: /port/},
  ]
  for (const row of refused) {
    it(`refuses ${row.name} with a ConfigError naming the key`, () => {
      assert.throws(
        () => sshOptions(row.host, {connectTimeoutSeconds: 5, configKey: 'hosts.telemetry'}),
        (error: unknown) => error instanceof ConfigError && row.key.test(error.message),
      )
    })
  }
})

describe('ssh-args: remote command quoting', () => {
  const table: Array<[string, string]> = [
    ['plain', "'plain'"],
    ['with space', "'with space'"],
    ["it's", `'it'\\''s'`],
    ['$HOME', "'$HOME'"],
    ['a;b', "'a;b'"],
    ['a\nb', "'a\nb'"],
    ['', "''"],
    ["'", `''\\'''`],
  ]
  for (const [input, want] of table) {
    it(`shellQuote(${JSON.stringify(input)}) is ${JSON.stringify(want)}`, () => assert.equal(shellQuote(input), want))
  }

  it('sshCommand puts options, then --, the target and ONE quoted command string', () => {
    const argv = sshCommand({target: 'u@h', port: 22}, {connectTimeoutSeconds: 5}, ['mkdir', '-p', '--', '/sddata/sas data/2024'])
    assert.deepEqual(argv.slice(0, 3), ['ssh', '-p', '22'])
    assert.deepEqual(argv.slice(-3), ['--', 'u@h', "'mkdir' '-p' '--' '/sddata/sas data/2024'"])
  })

  it('a POSIX shell reads every quoted name back byte for byte (sh -c, as sshd runs it)', () => {
    for (const shell of ['sh', 'bash']) {
      const command = ['printf', '%s\\0', ...AWKWARD_NAMES].map(shellQuote).join(' ')
      const result = spawnSync(shell, ['-c', command], {encoding: 'utf8'})
      assert.equal(result.status, 0, `${shell}: ${result.stderr}`)
      assert.deepEqual(result.stdout.split('\0').slice(0, -1), AWKWARD_NAMES, shell)
    }
  })

  it('refuses an empty remote command and NUL bytes', () => {
    assert.throws(() => sshCommand({target: 'h'}, {connectTimeoutSeconds: 5}, []), BugError)
    assert.throws(() => shellQuote('a\0b'), BugError)
  })
})

describe('ssh-args: rsync pieces', () => {
  it('rsyncRemoteShell is the ssh argv joined by single spaces', () => {
    assert.equal(
      rsyncRemoteShell(FULL, {connectTimeoutSeconds: 15}),
      'ssh -p 2222 -i /home/transfer/.ssh/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes ' +
        '-o UserKnownHostsFile=/etc/dataflow/known_hosts -o ConnectTimeout=15 -o ServerAliveInterval=15 -o ServerAliveCountMax=3',
    )
  })

  it('rsyncRemoteShell refuses whitespace in identity or known_hosts paths, naming the key', () => {
    assert.throws(() => rsyncRemoteShell({...FULL, identityFile: '/a b/id'}, {connectTimeoutSeconds: 5, configKey: 'hosts.campus'}), /hosts\.campus\.identityFile/)
    assert.throws(() => rsyncRemoteShell({...FULL, knownHostsFile: '/a b/kh'}, {connectTimeoutSeconds: 5}), /knownHostsFile/)
  })

  const paths: Array<[SshHost, string, string]> = [
    [{target: 'logman@sdc-serv'}, '/home/logman/data_flow_logs/sas/rsync_to_nas/', 'logman@sdc-serv:/home/logman/data_flow_logs/sas/rsync_to_nas/'],
    [{target: 'sdc-serv'}, '/x y/z', 'sdc-serv:/x y/z'],
    [{target: 'u@192.0.2.7'}, '/d', 'u@192.0.2.7:/d'],
    [{target: 'u@::1'}, '/d', 'u@[::1]:/d'],
    [{target: 'u@[::1]'}, '/d', 'u@[::1]:/d'],
  ]
  for (const [host, path, want] of paths) {
    it(`remotePath(${host.target}, ${path}) is ${want}`, () => assert.equal(remotePath(host, path), want))
  }

  const codes: Array<[number, ReturnType<typeof classifyRsyncExit>]> = [
    [0, 'ok'],
    [1, 'permanent'],
    [2, 'permanent'],
    [3, 'permanent'],
    [5, 'permanent'],
    [10, 'transient'],
    [11, 'permanent'],
    [12, 'transient'],
    [20, 'transient'],
    [23, 'permanent'],
    [24, 'permanent'],
    [30, 'transient'],
    [35, 'transient'],
    [255, 'unreachable'],
  ]
  for (const [code, want] of codes) {
    it(`rsync exit ${code} is ${want}`, () => assert.equal(classifyRsyncExit(code), want))
  }
})
