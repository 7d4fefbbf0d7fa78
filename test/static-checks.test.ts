// The static checks, as part of `npm test`: the type check (tsc), the lint with the architecture's
// layers and no import cycles (eslint, eslint.config.js) and the dead-code check (knip, knip.json).
// Each runs as its own child process (argv, no shell) and a test fails with the tool's own report.
// The second half proves that each check can fail: eslint is fed deliberately bad snippets on
// stdin under paths in the layers, and tsc a one-line type error.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {REPO} from './helpers/cli.js'

const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
const ESLINT = join(REPO, 'node_modules', 'eslint', 'bin', 'eslint.js')
const KNIP = join(REPO, 'node_modules', 'knip', 'bin', 'knip.js')
/** Generous: the whole-project checks take 10–30 s of CPU, and the suite runs two files at a time. */
const TIMEOUT = 10 * 60_000

interface Result {
  status: number | null
  output: string
}

/** Runs `node script ...args` in the repository, stdin from `input`; stdout and stderr together. */
function node(script: string, args: readonly string[], options: {input?: string; cwd?: string} = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd ?? REPO,
      env: {...process.env, FORCE_COLOR: '0', NO_COLOR: '1'},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('error', reject)
    child.once('close', (status) => resolve({status, output}))
    child.stdin.end(options.input ?? '')
  })
}

interface LintMessage {
  ruleId: string | null
  message: string
  line: number
}

/**
 * Lints `code` as if it were the file `file` (relative to the repository) and returns eslint's
 * messages. A file that does not exist is not in tsconfig.json's project, so the type-aware parser
 * is told to give it the default project (tsconfig.json's options) for this run only.
 */
async function lintSnippet(file: string, code: string, exists = false): Promise<LintMessage[]> {
  const notOnDisk = exists ? [] : ['--parser-options', `projectService:{allowDefaultProject:[${file}]}`]
  const {status, output} = await node(ESLINT, ['--stdin', '--stdin-filename', file, '--format', 'json', ...notOnDisk], {input: code})
  assert.ok(status === 0 || status === 1, `eslint exit ${status}:\n${output}`)
  const [report] = JSON.parse(output) as Array<{messages: LintMessage[]}>
  return report!.messages
}

const rules = (messages: readonly LintMessage[]) => messages.map((m) => `${m.line}: ${m.ruleId}: ${m.message}`)

it('tsc -p tsconfig.json --noEmit reports no type error', {timeout: TIMEOUT}, async () => {
  const {status, output} = await node(TSC, ['-p', 'tsconfig.json', '--noEmit'])
  assert.equal(status, 0, `tsc reports:\n${output}`)
})

it('eslint . reports no problem (type-aware rules, layers, import cycles)', {timeout: TIMEOUT}, async () => {
  const {status, output} = await node(ESLINT, ['.', '--max-warnings', '0'])
  assert.equal(status, 0, `eslint reports:\n${output}`)
})

it('knip finds no unused file or export (knip.json)', {timeout: TIMEOUT}, async () => {
  const {status, output} = await node(KNIP, ['--no-progress'])
  assert.equal(status, 0, `knip reports:\n${output}`)
})

describe('the checks can fail', {concurrency: true}, () => {
  it('lib importing commands is a boundary error', {timeout: TIMEOUT}, async () => {
    const messages = await lintSnippet('src/lib/formats/bad-example.ts', "import {BaseCommand} from '../../commands/base.js'\n\nexport const base = BaseCommand\n")
    const boundary = messages.filter((m) => m.ruleId === 'boundaries/dependencies')
    assert.equal(boundary.length, 1, rules(messages).join('\n'))
    assert.match(boundary[0]!.message, /"lib" to file of category "commands"/)
  })

  it('daemon importing a stage, statically or with import(), is a boundary error', {timeout: TIMEOUT}, async () => {
    const code = "import {runStage} from '../stages/runner.js'\n\nexport const run = runStage\nexport const later = () => import('../stages/specs.js')\n"
    const messages = await lintSnippet('src/lib/daemon/x.ts', code)
    const boundary = messages.filter((m) => m.ruleId === 'boundaries/dependencies')
    assert.deepEqual(boundary.map((m) => m.line), [1, 4], rules(messages).join('\n'))
    for (const m of boundary) assert.match(m.message, /"daemon" to file of category "stages"/)
  })

  it('an un-awaited promise is a no-floating-promises error', {timeout: TIMEOUT}, async () => {
    const code = 'async function later(): Promise<number> {\n  return 1\n}\n\nexport function start(): void {\n  later()\n}\n'
    const messages = await lintSnippet('src/lib/formats/floating-example.ts', code)
    assert.deepEqual(messages.map((m) => `${m.line}: ${m.ruleId}`), ['6: @typescript-eslint/no-floating-promises'], rules(messages).join('\n'))
  })

  it('an import cycle is an error (exec.ts importing bzip2.ts, which imports exec.ts)', {timeout: TIMEOUT}, async () => {
    const code = "import {hasBzip2Magic} from './formats/bzip2.js'\n\nexport const isBzip2 = hasBzip2Magic\n"
    const messages = await lintSnippet('src/lib/exec.ts', code, true)
    assert.ok(messages.some((m) => m.ruleId === 'import-x/no-cycle'), rules(messages).join('\n'))
  })

  const scratch = mkdtempSync(join(tmpdir(), 'dataflow-static-checks-'))
  after(() => rmSync(scratch, {recursive: true, force: true}))

  it('tsc fails on a type error', {timeout: TIMEOUT}, async () => {
    writeFileSync(join(scratch, 'bad.ts'), "export const n: number = 'not a number'\n")
    const {status, output} = await node(TSC, ['--noEmit', '--strict', 'bad.ts'], {cwd: scratch})
    assert.notEqual(status, 0, output)
    assert.match(output, /bad\.ts\(1,14\): error TS2322/)
  })
})
