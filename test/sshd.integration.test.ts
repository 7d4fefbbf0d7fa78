import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {ExternalToolError} from '../src/lib/errors.js'
import {run} from '../src/lib/exec.js'
import {remotePath, rsyncRemoteShell, SSH_RUN_CODES, sshCommand} from '../src/lib/transport/ssh-args.js'
import {type SshdHandle, startSshd} from './helpers/sshd.js'

const NAMES = ['with space', "it's", 'double "q"', '$HOME $(id) `id`', 'a; echo pwned', 'line1\nline2', '', '\\x', '*', 'ünï ✓']

describe('sshd helper: a real OpenSSH server on 127.0.0.1', () => {
  let sshd: SshdHandle
  before(async () => {
    sshd = await startSshd()
  })
  after(async () => {
    await sshd?.stop()
  })

  it('connects to the real sshd with the generated key and runs echo', async () => {
    const [command, ...args] = sshd.sshArgv('echo', 'hello-from-sshd')
    const result = await run([command!, ...args], {timeoutMs: 15_000})
    assert.equal(result.stdout, 'hello-from-sshd\n')
    assert.match(readFileSync(sshd.host.knownHostsFile!, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.host.port} ssh-ed25519 \\S+\\n$`))
  })

  it('the real sshd is REJECTED when its host key is unknown (empty known_hosts, StrictHostKeyChecking=yes): ssh exit 255', async () => {
    const empty = join(sshd.dir, 'empty_known_hosts')
    writeFileSync(empty, '')
    const argv = sshCommand({...sshd.host, knownHostsFile: empty}, {connectTimeoutSeconds: 5}, ['echo', 'must-not-run'])
    await assert.rejects(run(argv, {timeoutMs: 15_000, ...SSH_RUN_CODES}), (error: unknown) => {
      assert.ok(error instanceof ExternalToolError)
      assert.equal(error.details.code, 255)
      assert.equal(error.exitCode, 5)
      // The reason, checked here only to prove the test fails for the right cause.
      assert.match(error.details.stderrTail, /Host key verification failed/)
      return true
    })
    // Nothing was learned: the file is still empty (no trust on first use).
    assert.equal(readFileSync(empty, 'utf8'), '')
  })

  it('sshCommand over the real sshd: the remote login shell gets every awkward argument back verbatim', async () => {
    const argv = sshCommand(sshd.host, {connectTimeoutSeconds: 5}, ['printf', '%s\\0', ...NAMES])
    const result = await run(argv, {timeoutMs: 15_000, ...SSH_RUN_CODES})
    assert.deepEqual(result.stdout.split('\0').slice(0, -1), NAMES)
  })

  it('rsync over the real sshd copies a file (same bytes, mtime kept) to a path with spaces and quotes', async () => {
    const source = join(sshd.dir, 'source file.txt')
    writeFileSync(source, 'radar data\n')
    utimesSync(source, new Date('2024-03-01T12:00:00Z'), new Date('2024-03-01T12:00:00Z'))
    const destDir = join(sshd.dir, "dest dir's $x")
    mkdirSync(destDir)
    const shell = rsyncRemoteShell(sshd.host, {connectTimeoutSeconds: 5})
    await run(['rsync', '--archive', '--protect-args', '-e', shell, '--', source, remotePath(sshd.host, `${destDir}/`)], {timeoutMs: 15_000})
    const copy = join(destDir, 'source file.txt')
    assert.equal(readFileSync(copy, 'utf8'), 'radar data\n')
    assert.equal(statSync(copy).mtimeMs, statSync(source).mtimeMs)
  })
})
