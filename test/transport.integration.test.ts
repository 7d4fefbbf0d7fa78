// Transports against real destinations: the conformance suite for the local file system and for
// rsync/ssh against a REAL OpenSSH server on 127.0.0.1 (test/helpers/sshd.ts), then what only ssh
// has (one multiplexed connection, host keys, a server that dies mid-transfer) and moveVerified's
// promise: the source is deleted only after a verified copy, and kept on every failure.
//
// Root-only tools are used on purpose, because root ignores permission bits: `chattr +i` makes a
// directory refuse new files even for root, and a 64 KiB tmpfs makes a real "disk full". A missing
// tool or privilege fails these tests; it never skips them.
import assert from 'node:assert/strict'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {defaultConfig} from '../src/lib/config/schema.js'
import {ConfigError, ConflictError, UnreachableError, VerifyError} from '../src/lib/errors.js'
import {run} from '../src/lib/exec.js'
import {TEMP_MARKER} from '../src/lib/fs/atomic.js'
import {hashBytes} from '../src/lib/hash.js'
import {transportFor} from '../src/lib/transport/index.js'
import {LocalTransport} from '../src/lib/transport/local.js'
import {SshTransport} from '../src/lib/transport/ssh.js'
import type {Transport} from '../src/lib/transport/types.js'
import {moveVerified, sendVerifiedWithResend} from '../src/lib/transport/verified-move.js'
import {type SshdHandle, startSshd} from './helpers/sshd.js'
import {bytesArriving, eventually} from './helpers/wait.js'
import {type ConformanceFixture, transportConformance} from './transport.conformance.js'

const scratch = mkdtempSync(join(tmpdir(), 'dataflow-transport-'))
after(() => {
  if (!process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(scratch, {recursive: true, force: true})
})

const FAST_RETRY = {attempts: 3, initialDelayMs: 100, maxDelayMs: 200}
const TIMEOUTS = {connectTimeoutSeconds: 5, ioTimeoutSeconds: 30, commandTimeoutSeconds: 60}

/** pids of running processes whose command line mentions `text` (e.g. an ssh master's ControlPath). */
function processesMentioning(text: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry))
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {recursive: true}).map(String)
}

/** A destination on this machine (the loopback sshd writes to the same file system). */
function loopbackFixture(transport: Transport, destRoot: string, cleanup: () => Promise<void>): ConformanceFixture {
  return {
    transport,
    destRoot,
    readDest: (path) => readFileSync(path),
    writeDest(path, data) {
      mkdirSync(dirname(path), {recursive: true})
      writeFileSync(path, data)
    },
    statDest(path) {
      try {
        return statSync(path)
      } catch {
        return null
      }
    },
    listDest: (dir) => listTree(dir),
    async denyWrites(dir) {
      await run(['chattr', '+i', '--', dir])
      return async () => void (await run(['chattr', '-i', '--', dir]))
    },
    async fillUp(dir) {
      await run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'dataflow-test-full', dir])
      return async () => void (await run(['umount', dir]))
    },
    async cleanup() {
      await transport.close()
      await cleanup()
    },
  }
}

// --- A fault on the remote side: an md5sum that lies about marked names -------------------------
// To the verifier a lying md5sum is indistinguishable from a copy that was corrupted on the way or
// on the disk: the only way to reach put()'s mismatch branch with real processes. The shared sshd
// puts this directory first on the PATH of its sessions (sshd_config SetEnv); names without a
// marker go to the real md5sum.
const faultDir = join(scratch, 'fault')
mkdirSync(faultDir)
const LIES_LOG = join(faultDir, 'lies.log')
writeFileSync(
  join(faultDir, 'md5sum'),
  `#!/bin/sh
for last; do :; done
lie() { printf '%s\\n' "$last" >> '${LIES_LOG}'; printf '%s  %s\\n' 00000000000000000000000000000000 "$last"; exit 0; }
case $last in
  *corrupt-always*) [ -f "$last" ] && lie ;;
  *corrupt-once*)
    mark='${faultDir}'/once-$(printf %s "$last" | /usr/bin/md5sum | cut -c1-32)
    if [ -f "$last" ] && [ ! -e "$mark" ]; then : > "$mark"; lie; fi ;;
esac
exec /usr/bin/md5sum "$@"
`,
)
chmodSync(join(faultDir, 'md5sum'), 0o755)
const lies = (path: string) => (existsSync(LIES_LOG) ? readFileSync(LIES_LOG, 'utf8').split('\n').filter((l) => l === path).length : 0)

// HOME: the sessions' bash would otherwise source this machine's ~/.bashrc (pyenv init: ~0.1 s for
// every remote command). The tests must not depend on a developer's dotfiles; the working
// directory of the sessions stays the real home (where the awkward-names test looks for "pwned").
const sessionHome = join(scratch, 'session-home')
mkdirSync(sessionHome)
let sharedSshd: Promise<SshdHandle> | undefined
const sshd = () =>
  (sharedSshd ??= startSshd(undefined, {extraConfig: [`SetEnv PATH=${faultDir}:/usr/local/bin:/usr/bin:/bin HOME=${sessionHome}`]}))
after(async () => {
  if (sharedSshd) await (await sharedSshd).stop()
})

function sshTransport(server: SshdHandle, extra: Partial<ConstructorParameters<typeof SshTransport>[1]> = {}): SshTransport {
  return new SshTransport(server.host, {...TIMEOUTS, controlDir: join(scratch, 'ctl'), ...extra})
}

transportConformance('LocalTransport (local file system)', async () => {
  const destRoot = mkdtempSync(join(scratch, 'local-dest-'))
  return loopbackFixture(new LocalTransport(), destRoot, async () => {})
})

transportConformance('SshTransport (rsync + ssh to a real sshd on 127.0.0.1)', async () => {
  const server = await sshd()
  const destRoot = mkdtempSync(join(scratch, 'ssh-dest-'))
  return loopbackFixture(sshTransport(server), destRoot, async () => {})
})

/** n source files with distinct random-ish content in a fresh local directory. */
function sources(count: number, size: number, prefix: string): {dir: string; files: string[]; hashes: string[]} {
  const dir = mkdtempSync(join(scratch, `${prefix}-src-`))
  const files: string[] = []
  const hashes: string[] = []
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(size)
    for (let j = 0; j < size; j += 4) data.writeUInt32LE((Math.imul(j + 1, 2654435761) ^ (i * 7919)) >>> 0, j)
    const file = join(dir, `20240301.${String(i).padStart(4, '0')}.00.sas.0.rawacf.bz2`)
    writeFileSync(file, data)
    files.push(file)
    hashes.push(hashBytes(data, 'md5'))
  }
  return {dir, files, hashes}
}

describe('SshTransport against a real sshd on 127.0.0.1 (ssh only)', () => {
  let server: SshdHandle
  before(async () => {
    server = await sshd()
  })

  it('a run that moves 20 files opens exactly ONE ssh connection (counted in sshd\'s log), and close() ends it', async () => {
    const {files, hashes} = sources(20, 4096, 'twenty')
    const destDir = mkdtempSync(join(scratch, 'twenty-dest-'))
    const transport = sshTransport(server)
    const accepted = server.acceptedConnections()
    try {
      await transport.open()
      for (const file of files) {
        const result = await moveVerified(transport, file, join(destDir, 'rawacf', file.split('/').at(-1)!), {algorithm: 'md5', retry: FAST_RETRY})
        assert.equal(result.outcome, 'copied')
        assert.equal(result.attempts, 1)
      }
      assert.equal(await transport.hash(join(destDir, 'rawacf', files[0]!.split('/').at(-1)!), 'md5'), hashes[0])
    } finally {
      await transport.close()
    }
    assert.equal(server.acceptedConnections() - accepted, 1, 'sshd accepted more than one connection')
    assert.equal(transport.connectionsOpened, 1)
    for (const [i, file] of files.entries()) {
      assert.equal(existsSync(file), false)
      assert.equal(hashBytes(readFileSync(join(destDir, 'rawacf', file.split('/').at(-1)!)), 'md5'), hashes[i])
    }
    // The control socket and its private directory are gone, and so is the master process.
    assert.deepEqual(readdirSync(join(scratch, 'ctl')), [])
    assert.deepEqual(processesMentioning(join(scratch, 'ctl')), [])
  })

  it('identical or conflicting destination: answered from the remote hash, without sending the bytes', async () => {
    // At 16 KiB/s, sending this 1 MiB file would take about a minute.
    const transport = sshTransport(server, {bandwidthLimitKBps: 16})
    const {files, hashes} = sources(1, 1 << 20, 'no-send')
    const destDir = mkdtempSync(join(scratch, 'no-send-dest-'))
    writeFileSync(join(destDir, 'same.dat'), readFileSync(files[0]!))
    writeFileSync(join(destDir, 'other.dat'), 'other')
    const started = Date.now()
    try {
      const same = await transport.put(files[0]!, join(destDir, 'same.dat'), {algorithm: 'md5'})
      assert.deepEqual(same, {outcome: 'identical', hash: hashes[0], sourceHash: hashes[0], bytes: 1 << 20})
      await assert.rejects(transport.put(files[0]!, join(destDir, 'other.dat'), {algorithm: 'md5'}), ConflictError)
    } finally {
      await transport.close()
    }
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms: the bytes were sent`)
    assert.deepEqual(listTree(destDir).sort(), ['other.dat', 'same.dat'])
  })

  it('an UNKNOWN host key: a permanent error naming the host, not retried, nothing sent, the key never learned', async () => {
    const knownHostsFile = join(scratch, 'empty_known_hosts')
    writeFileSync(knownHostsFile, '')
    const transport = new SshTransport({...server.host, knownHostsFile}, {...TIMEOUTS, controlDir: join(scratch, 'ctl'), configKey: 'hosts.siteLinux'})
    const {files} = sources(1, 1000, 'unknown-key')
    const destDir = join(scratch, 'unknown-key-dest')
    const accepted = server.acceptedConnections()
    let retries = 0
    try {
      await assert.rejects(
        moveVerified(transport, files[0]!, join(destDir, 'x.dat'), {algorithm: 'md5', retry: FAST_RETRY, onRetry: () => retries++}),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error))
          assert.equal(error.transient, false)
          assert.match(error.message, new RegExp(`hosts\\.siteLinux .*\\[127\\.0\\.0\\.1\\]:${server.host.port} is not in ${knownHostsFile}`))
          assert.doesNotMatch(error.message, /\n/)
          return true
        },
      )
    } finally {
      await transport.close()
    }
    assert.equal(retries, 0)
    assert.equal(existsSync(files[0]!), true)
    assert.equal(existsSync(destDir), false)
    assert.equal(server.acceptedConnections(), accepted)
    assert.equal(readFileSync(knownHostsFile, 'utf8'), '')
  })

  it('a CHANGED host key is refused too (never accepted), nothing sent', async () => {
    const knownHostsFile = join(scratch, 'wrong_known_hosts')
    // Another ed25519 key (the user's) posing as the server's.
    const wrongKey = readFileSync(`${server.host.identityFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')
    writeFileSync(knownHostsFile, `[127.0.0.1]:${server.host.port} ${wrongKey}\n`)
    const transport = new SshTransport({...server.host, knownHostsFile}, {...TIMEOUTS, controlDir: join(scratch, 'ctl')})
    const {files} = sources(1, 1000, 'changed-key')
    const destDir = join(scratch, 'changed-key-dest')
    const accepted = server.acceptedConnections()
    try {
      await assert.rejects(transport.put(files[0]!, join(destDir, 'x.dat'), {algorithm: 'md5'}), UnreachableError)
    } finally {
      await transport.close()
    }
    assert.equal(existsSync(destDir), false)
    assert.equal(server.acceptedConnections(), accepted)
  })

  it('moveVerified: a copy that fails verification is removed and re-sent ONCE; the source goes only after the re-sent copy verified', async () => {
    const transport = sshTransport(server)
    const {files, hashes} = sources(1, 50_000, 'corrupt-once')
    const target = join(mkdtempSync(join(scratch, 'once-dest-')), 'corrupt-once.dat')
    const resends: unknown[] = []
    try {
      const result = await moveVerified(transport, files[0]!, target, {algorithm: 'md5', retry: FAST_RETRY, onResend: (e) => resends.push(e)})
      assert.deepEqual(result, {outcome: 'copied', hash: hashes[0], bytes: 50_000, attempts: 2, resent: true})
    } finally {
      await transport.close()
    }
    assert.equal(lies(target), 1)
    assert.equal(resends.length, 1)
    assert.ok(resends[0] instanceof VerifyError && !(resends[0] instanceof ConflictError))
    assert.equal(existsSync(files[0]!), false)
    assert.equal(hashBytes(readFileSync(target), 'md5'), hashes[0])
  })

  it('moveVerified: a copy that keeps failing verification throws VerifyError after one re-send (never loops), bad copy removed, source kept', async () => {
    const transport = sshTransport(server)
    const {files, hashes} = sources(1, 50_000, 'corrupt-always')
    const destDir = mkdtempSync(join(scratch, 'always-dest-'))
    const target = join(destDir, 'corrupt-always.dat')
    try {
      await assert.rejects(moveVerified(transport, files[0]!, target, {algorithm: 'md5', retry: FAST_RETRY}), (error: unknown) => {
        assert.ok(error instanceof VerifyError && !(error instanceof ConflictError), String(error))
        assert.equal(error.expected, hashes[0])
        assert.equal(error.actual, '0'.repeat(32))
        assert.match(error.message, /does not match its source.*copy removed/)
        return true
      })
    } finally {
      await transport.close()
    }
    assert.equal(lies(target), 2, 'exactly two sends were verified')
    assert.deepEqual(listTree(destDir), [])
    assert.equal(hashBytes(readFileSync(files[0]!), 'md5'), hashes[0])
  })

  it('moveVerified: a conflicting destination keeps the source, or is replaced when the caller allows a re-send', async () => {
    const transport = sshTransport(server)
    const {files, hashes} = sources(1, 10_000, 'conflict')
    const destDir = mkdtempSync(join(scratch, 'conflict-dest-'))
    const target = join(destDir, 'x.dat')
    writeFileSync(target, 'truncated earlier copy')
    try {
      await assert.rejects(moveVerified(transport, files[0]!, target, {algorithm: 'md5', retry: FAST_RETRY}), ConflictError)
      assert.equal(readFileSync(target, 'utf8'), 'truncated earlier copy')
      assert.equal(hashBytes(readFileSync(files[0]!), 'md5'), hashes[0])
      const sent = await sendVerifiedWithResend(transport, files[0]!, target, {algorithm: 'md5', retry: FAST_RETRY, resendOnConflict: true})
      assert.equal(sent.resent, true)
      assert.equal(existsSync(files[0]!), true, 'send never deletes the source')
      assert.equal(
        (await moveVerified(transport, files[0]!, target, {algorithm: 'md5', retry: FAST_RETRY, resendOnConflict: true})).outcome,
        'identical',
      )
    } finally {
      await transport.close()
    }
    assert.equal(existsSync(files[0]!), false)
    assert.equal(hashBytes(readFileSync(target), 'md5'), hashes[0])
    assert.deepEqual(listTree(destDir), ['x.dat'])
  })
})

describe('SshTransport when sshd is killed mid-transfer (its own real sshd)', () => {
  let server: SshdHandle
  before(async () => {
    server = await startSshd()
  })
  after(async () => {
    await server?.stop()
  })

  it('the move fails transient (retries bounded), source intact, nothing under the final name; after sshd restarts on the same port a new run completes', async () => {
    const config = defaultConfig()
    const settings = {connectTimeoutSeconds: 5, ioTimeoutSeconds: config.timeouts.ioSeconds, commandTimeoutSeconds: config.timeouts.commandSeconds, controlDir: join(scratch, 'state', 'ssh')}
    // 4 MiB at 256 KiB/s: a 16 s transfer, killed after its first bytes.
    const slow = transportFor({kind: 'ssh', host: {...server.host, bandwidthLimitKBps: 256}, configKey: 'hosts.test'}, settings)
    const {files, hashes} = sources(1, 4 << 20, 'killed')
    const source = files[0]!
    const destDir = mkdtempSync(join(scratch, 'killed-dest-'))
    const target = join(destDir, 'big.rawacf.bz2')
    let retries = 0
    const started = Date.now()
    const moving = moveVerified(slow, source, target, {
      algorithm: 'md5',
      retry: {attempts: 2, initialDelayMs: 200, maxDelayMs: 200},
      onRetry: (error) => {
        retries++
        assert.equal((error as {transient?: boolean}).transient, true, String(error))
      },
    })
    const outcome = moving.then(
      () => null,
      (error: unknown) => error,
    )
    // Wait until the bytes are flowing into a temporary name, then pull the plug.
    await eventually(() => bytesArriving(destDir), 10_000, () => 'the transfer never started', 20)
    await server.kill()
    const error = await outcome
    assert.ok(error instanceof Error, `the move should have failed, got ${String(error)}`)
    assert.equal((error as {transient?: boolean}).transient, true, String(error))
    assert.doesNotMatch(error.message, /\n/)
    assert.equal(retries, 1)
    assert.ok(Date.now() - started < 15_000, 'the failure took as long as the transfer')
    await slow.close()
    assert.equal(hashBytes(readFileSync(source), 'md5'), hashes[0])
    assert.equal(existsSync(target), false)
    // A receiver killed by SIGKILL cannot clean up: what it left is recognisable as a stale temp.
    for (const leftover of listTree(destDir)) assert.ok(leftover.includes(TEMP_MARKER), leftover)

    await server.restart()
    const next = transportFor({kind: 'ssh', host: server.host, configKey: 'hosts.test'}, settings)
    try {
      const result = await moveVerified(next, source, target, {algorithm: 'md5', retry: FAST_RETRY})
      assert.equal(result.hash, hashes[0])
    } finally {
      await next.close()
    }
    assert.equal(existsSync(source), false)
    assert.equal(hashBytes(readFileSync(target), 'md5'), hashes[0])
    assert.deepEqual(readdirSync(join(scratch, 'state', 'ssh')), [], 'control sockets removed')
  })
})

describe('moveVerified over the local transport', () => {
  it('deletes the source after a verified copy, keeps it on a conflict and on a refused write', async () => {
    const transport = new LocalTransport()
    const {files, hashes} = sources(3, 20_000, 'local-move')
    const destDir = mkdtempSync(join(scratch, 'local-move-dest-'))
    const moved = await moveVerified(transport, files[0]!, join(destDir, 'a', 'x.dat'), {algorithm: 'sha256', retry: FAST_RETRY})
    assert.equal(moved.outcome, 'copied')
    assert.equal(existsSync(files[0]!), false)
    writeFileSync(join(destDir, 'b.dat'), 'other')
    await assert.rejects(moveVerified(transport, files[1]!, join(destDir, 'b.dat'), {algorithm: 'md5', retry: FAST_RETRY}), ConflictError)
    assert.equal(hashBytes(readFileSync(files[1]!), 'md5'), hashes[1])
    mkdirSync(join(destDir, 'locked'))
    await run(['chattr', '+i', '--', join(destDir, 'locked')])
    try {
      await assert.rejects(moveVerified(transport, files[2]!, join(destDir, 'locked', 'c.dat'), {algorithm: 'md5', retry: FAST_RETRY}), /EPERM/)
    } finally {
      await run(['chattr', '-i', '--', join(destDir, 'locked')])
    }
    assert.equal(hashBytes(readFileSync(files[2]!), 'md5'), hashes[2])
  })
})
