import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {it} from 'node:test'

import {configReference} from '../src/lib/config/reference.js'
import {EXIT_CODE_HELP} from '../src/lib/errors.js'
import {REPO} from './helpers/cli.js'

const readme = readFileSync(join(REPO, 'README.md'), 'utf8')

it('README config reference is generated from the schema (run: npx tsx scripts/config-reference.ts --write)', () => {
  assert.ok(readme.includes(configReference()), 'README config reference is stale')
})

it('README lists every exit code', () => {
  for (const [code, text] of EXIT_CODE_HELP) assert.ok(readme.includes(`| ${code} | ${text} |`), `README lacks exit code ${code}`)
})
