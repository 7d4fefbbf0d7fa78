// Runs every test/**/*.test.ts with Node's built-in runner (through tsx). Node 20 takes no globs,
// so the files are listed here. The spec reporter goes to the terminal; a TAP copy is parsed to
// print the closing line `N passed, N failed` that CI reads. Extra arguments filter files by name.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const filters = process.argv.slice(2)
const files = readdirSync('test', {recursive: true})
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
  .map((f) => join('test', f))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const tap = join(mkdtempSync(join(tmpdir(), 'dataflow-tests-')), 'results.tap')
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test', '--test-concurrency=2',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...files,
  ],
  {stdio: 'inherit', env: {...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0'}},
)
let text = ''
try {
  text = readFileSync(tap, 'utf8')
} catch {}
const count = (key) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
const failed = count('fail') + count('cancelled')
console.log(`\n${count('pass')} passed, ${failed} failed, ${count('skipped')} skipped`)
process.exit(result.status === 0 && failed === 0 ? 0 : 1)
