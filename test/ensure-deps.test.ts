// scripts/ensure-deps.mjs, the first step of `npm test`, `npm run demo`, `npm run bench` and
// `npm run package`: on a machine without the system tools it installs them (root with apt-get) or
// stops at once with one line naming the command to run (exit 2). Run for real in a private mount
// namespace where the tools are really absent: /usr/sbin (sshd) under an empty tmpfs, PATH a
// directory with only node (and apt-get where the case needs it); as root and as `nobody`.
// The install path itself (root + apt-get) runs for real on every fresh machine: it is what
// `npm test` did first on this one.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {findOnPath} from '../src/lib/exec.js'
import {REPO} from './helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'dataflow-ensure-'))
chmodSync(dir, 0o755)
after(() => rmSync(dir, {recursive: true, force: true}))
// The script in a world-readable copy of the tree it looks at (the clone may sit in a private
// directory that `nobody` cannot read): itself, the lock file and a node_modules stamp as fresh.
const tree = join(dir, 'repo')
for (const sub of ['scripts', 'node_modules']) mkdirSync(join(tree, sub), {recursive: true})
const SCRIPT = join(tree, 'scripts', 'ensure-deps.mjs')
copyFileSync(join(REPO, 'scripts', 'ensure-deps.mjs'), SCRIPT)
copyFileSync(join(REPO, 'package-lock.json'), join(tree, 'package-lock.json'))
copyFileSync(join(REPO, 'package-lock.json'), join(tree, 'node_modules', '.package-lock.json'))

/** A PATH directory holding only the named programs (symlinks to the real ones). */
function pathWith(name: string, programs: Record<string, string>): string {
  const bin = join(dir, name)
  spawnSync('mkdir', ['-p', bin])
  for (const [program, target] of Object.entries(programs)) symlinkSync(target, join(bin, program))
  return bin
}
const nodeOnly = pathWith('node-only', {node: process.execPath})
const nodeAndApt = pathWith('node-apt', {node: process.execPath, 'apt-get': findOnPath('apt-get') ?? '/usr/bin/apt-get'})

/** Runs the script in a mount namespace without /usr/sbin's programs, as root or as nobody. */
function ensureWithout(path: string, args: string[], user: 'root' | 'nobody') {
  const asUser = user === 'nobody' ? ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []
  const inner = [...asUser, '/usr/bin/env', `PATH=${path}`, 'HOME=/nonexistent', process.execPath, SCRIPT, ...args]
  const result = spawnSync('unshare', ['--mount', '--', 'sh', '-c', 'mount -t tmpfs none /usr/sbin && exec "$@"', 'sh', ...inner], {cwd: tree, encoding: 'utf8', timeout: 60_000})
  return {code: result.status, stdout: result.stdout, stderr: result.stderr}
}

describe('scripts/ensure-deps.mjs on a machine without the tools', () => {
  it('a non-root user gets one line naming the exact apt-get command, exit 2, and nothing is installed', () => {
    const {code, stdout, stderr} = ensureWithout(nodeAndApt, ['--for', 'demo'], 'nobody')
    assert.equal(code, 2, stderr)
    assert.equal(stdout, '')
    assert.deepEqual(stderr.trimEnd().split('\n').length, 1, stderr)
    assert.match(stderr, /^dataflow needs rsync, ssh, ssh-keygen, sshd, bzip2, lbzip2 for npm run demo: run `sudo apt-get install -y --no-install-recommends rsync openssh-client openssh-server bzip2 lbzip2` \(or the same as root\), then run it again\n$/)
  })

  it('npm test also needs systemd-analyze and strip', () => {
    const {code, stderr} = ensureWithout(nodeAndApt, ['--for', 'test'], 'nobody')
    assert.equal(code, 2, stderr)
    assert.match(stderr, /`sudo apt-get install -y --no-install-recommends rsync openssh-client openssh-server bzip2 lbzip2 systemd binutils`/)
  })

  it('npm run package needs only strip', () => {
    const {code, stderr} = ensureWithout(nodeAndApt, ['--for', 'package'], 'nobody')
    assert.equal(code, 2, stderr)
    assert.match(stderr, /^dataflow needs strip for npm run package: run `sudo apt-get install -y --no-install-recommends binutils`/)
  })

  it('without apt-get (not Debian), even root gets one line naming the packages, exit 2', () => {
    const {code, stderr} = ensureWithout(nodeOnly, ['--for', 'demo'], 'root')
    assert.equal(code, 2, stderr)
    assert.deepEqual(stderr.trimEnd().split('\n').length, 1, stderr)
    assert.match(stderr, /^dataflow needs rsync, .* install the packages rsync openssh-client openssh-server bzip2 lbzip2 \(Debian names\) with your system's package manager/)
  })

  it('an unknown purpose is a usage error', () => {
    const result = spawnSync(process.execPath, [SCRIPT, '--for', 'deploy'], {cwd: tree, encoding: 'utf8'})
    assert.equal(result.status, 2)
    assert.match(result.stderr, /--for must be test, demo, bench or package/)
  })
})

describe('scripts/ensure-deps.mjs on this machine (tools installed, node_modules fresh)', () => {
  for (const purpose of ['test', 'demo', 'bench', 'package']) {
    it(`--for ${purpose}: nothing to do, silent, exit 0`, () => {
      const result = spawnSync(process.execPath, [join(REPO, 'scripts', 'ensure-deps.mjs'), '--for', purpose], {cwd: REPO, encoding: 'utf8'})
      assert.deepEqual([result.status, result.stdout, result.stderr], [0, '', ''])
    })
  }
})
