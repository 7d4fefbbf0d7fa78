// The layering of docs/design.md#layers, enforced: oclif only in src/commands (and the entry),
// sharp and plotly only in src/plotting, child processes only through src/lib/exec.ts.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {it} from 'node:test'

import {REPO} from './helpers/cli.js'

const files = readdirSync(join(REPO, 'src'), {recursive: true})
  .map(String)
  .filter((f) => f.endsWith('.ts'))
const source = (f: string) => readFileSync(join(REPO, 'src', f), 'utf8')
const imports = (f: string, what: RegExp) => new RegExp(`from '${what.source}'|import\\('${what.source}'\\)`).test(source(f))

it('@oclif/core is imported only by src/commands and the process entry', () => {
  const offenders = files.filter((f) => !f.startsWith('commands/') && !['cli.ts', 'bundle-entry.ts'].includes(f) && imports(f, /@oclif\/core/))
  assert.deepEqual(offenders, [])
})

it('sharp and plotly are imported only by src/plotting', () => {
  const offenders = files.filter((f) => !f.startsWith('plotting/') && imports(f, /(sharp|plotly\.js-dist-min)/))
  assert.deepEqual(offenders, [])
})

it('node:child_process is used only by src/lib/exec.ts', () => {
  const offenders = files.filter((f) => f !== 'lib/exec.ts' && imports(f, /(node:)?child_process/))
  assert.deepEqual(offenders, [])
})

it('zx is for the developer scripts only: nothing in src imports it (the binary does not carry it)', () => {
  const offenders = files.filter((f) => imports(f, /zx(\/[^']*)?/))
  assert.deepEqual(offenders, [])
})

it('command modules do not import heavy packages at top level (every command loads on each start)', () => {
  const heavy = /^import .* from '(sharp|h5wasm[^']*|zx|node-inotify|plotly\.js-dist-min)'/m
  const offenders = files.filter((f) => f.startsWith('commands/') && heavy.test(source(f)))
  assert.deepEqual(offenders, [])
})
