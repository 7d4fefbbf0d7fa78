// Prints README's configuration reference; with --write, replaces it in README.md.
import {readFileSync, writeFileSync} from 'node:fs'

import {configReference, REFERENCE_BEGIN, REFERENCE_END} from '../src/lib/config/reference.js'

const table = configReference()
if (process.argv.includes('--write')) {
  const readme = readFileSync('README.md', 'utf8')
  const start = readme.indexOf(REFERENCE_BEGIN)
  const end = readme.indexOf(REFERENCE_END)
  if (start < 0 || end < 0) throw new Error('README.md has no config-reference markers')
  writeFileSync('README.md', readme.slice(0, start) + table + readme.slice(end + REFERENCE_END.length))
} else {
  console.log(table)
}
