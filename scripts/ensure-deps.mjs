// Installs the locked dependencies when node_modules is missing or older than the lock file,
// so `npm test`, `npm run demo` and `npm run package` work on a fresh clone with no other step.
import {spawnSync} from 'node:child_process'
import {existsSync, statSync} from 'node:fs'

const lock = 'package-lock.json'
const stamp = 'node_modules/.package-lock.json'
const stale = !existsSync(stamp) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(stamp).mtimeMs + 1000)
if (stale) {
  const argv = existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']
  process.stderr.write(`dependencies missing or stale: npm ${argv.join(' ')}\n`)
  const result = spawnSync('npm', argv, {stdio: 'inherit'})
  if (result.status !== 0) process.exit(result.status ?? 1)
}
