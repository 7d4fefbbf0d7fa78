// A clone stands alone: nothing refers to files outside the repository (a user's clone has no
// sibling folders), the fixtures are all here, unchanged (SHA256SUMS), documented (their README)
// and within the size budget, and no committed file is too large for the repository.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {describe, it} from 'node:test'

import {FIXTURES, REPO} from './helpers/cli.js'

const MB = 1024 * 1024

/** The repository's files: tracked and untracked-but-not-ignored (what the next commit would hold). */
function repositoryFiles(): string[] {
  const git = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {cwd: REPO, encoding: 'utf8'})
  if (git.status === 0) return git.stdout.split('\0').filter((f) => f && existsSync(join(REPO, f)))
  // Not a git checkout (an exported tree): walk it, skipping what .gitignore lists.
  const skip = new Set(['.git', 'node_modules', 'dist', 'build', 'demo-sandbox', '.bench'])
  return readdirSync(REPO, {recursive: true})
    .map(String)
    .filter((f) => !f.split('/').some((part) => skip.has(part)) && statSync(join(REPO, f)).isFile())
}

const isText = (bytes: Buffer) => !bytes.subarray(0, 8192).includes(0)

/** References to the folders beside a development checkout, which a user's clone does not have.
 *  (Written so that this file itself holds no such reference: `grep -rn` for one finds nothing.) */
const UP = '..'
const OUTSIDE = [
  /\.\.\/shared\b/, // the sibling folder by relative path
  /['"]\.\.['"],\s*['"]shared['"]/, // join(REPO, '..', 'shared', ...)
  /(?<![\w./-])shared\/(fixtures|spec)\b/, // shared/fixtures/... as a place to look
  /\/work\/(main|shared)\b/, // this machine's absolute paths
]

/** Files with a reference to outside the repository: `path:line: text`. */
function outsideReferences(files: readonly string[], read: (file: string) => Buffer): string[] {
  const found: string[] = []
  for (const file of files) {
    const bytes = read(file)
    if (!isText(bytes)) continue
    bytes
      .toString('utf8')
      .split('\n')
      .forEach((line, i) => {
        if (OUTSIDE.some((pattern) => pattern.test(line))) found.push(`${file}:${i + 1}: ${line.trim()}`)
      })
  }
  return found
}

describe('the repository stands alone', () => {
  const files = repositoryFiles()
  const self = relative(REPO, new URL(import.meta.url).pathname)

  it('lists the repository files', () => {
    assert.ok(files.includes('package.json') && files.includes('test/fixtures/SHA256SUMS'), files.slice(0, 5).join(', '))
  })

  it('no file refers to a path outside the repository', () => {
    const found = outsideReferences(
      files.filter((f) => f !== self),
      (f) => readFileSync(join(REPO, f)),
    )
    assert.deepEqual(found, [])
  })

  it('the check finds each kind of reference it looks for (so the test above can fail)', () => {
    const samples: Record<string, string> = {
      'a.ts': "const FIXTURES = resolve(REPO, '..', 'shared', 'fixtures')",
      'b.md': `see ${UP}/shared/spec/notes.md`,
      'c.ts': '// the reference images (shared/fixtures/borealis/*.jpg)',
      'd.sh': 'cp /work/shared/fixtures/x .',
      'e.ts': "const FIXTURES = join(REPO, 'test', 'fixtures') // test/fixtures/borealis",
      'f.h5': `\0binary ${UP}/shared`,
    }
    const found = outsideReferences(Object.keys(samples), (f) => Buffer.from(samples[f]!))
    assert.deepEqual(found.map((line) => line.split(':')[0]), ['a.ts', 'b.md', 'c.ts', 'd.sh'])
  })

  it('no committed file is over 3 MB', () => {
    const large = files.filter((f) => statSync(join(REPO, f)).size > 3 * MB)
    assert.deepEqual(large, [])
  })
})

describe('test/fixtures', () => {
  const fixtureFiles = readdirSync(FIXTURES, {recursive: true})
    .map(String)
    .filter((f) => statSync(join(FIXTURES, f)).isFile())
    .sort()
  const listed = new Map(
    readFileSync(join(FIXTURES, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [hash, file] = line.split(/ {2}/)
        return [file!, hash!] as const
      }),
  )
  const sha256 = (file: string) => createHash('sha256').update(readFileSync(join(FIXTURES, file))).digest('hex')

  it('SHA256SUMS lists exactly the fixture files, and every hash matches', () => {
    assert.deepEqual([...listed.keys()].sort(), fixtureFiles.filter((f) => f !== 'SHA256SUMS' && f !== 'README.md'))
    const changed = [...listed].filter(([file, hash]) => sha256(file) !== hash).map(([file]) => file)
    assert.deepEqual(changed, [])
  })

  it('stay within the budget: under 30 MB in all, no file over 3 MB', () => {
    const sizes = fixtureFiles.map((f) => statSync(join(FIXTURES, f)).size)
    assert.ok(sizes.reduce((a, b) => a + b, 0) < 30 * MB, `${sizes.reduce((a, b) => a + b, 0)} bytes`)
    assert.ok(Math.max(...sizes) <= 3 * MB)
  })

  it('README.md names every fixture file (its provenance)', () => {
    const readme = readFileSync(join(FIXTURES, 'README.md'), 'utf8')
    const unnamed = [...listed.keys()].filter((f) => !readme.includes(`\`${f.split('/').at(-1)}\``))
    assert.deepEqual(unnamed, [])
  })

  it('the reference conversions are the bytes pyDARNio wrote (reference.jsonl hashes)', () => {
    const references = readFileSync(join(FIXTURES, 'borealis', 'reference.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {input: string; output: string; rawacf_sha256: string; bz2_sha256: string; rawacf_bytes: number})
    assert.deepEqual(references.map((r) => r.output).sort(), fixtureFiles.filter((f) => f.endsWith('.rawacf') && f.startsWith('borealis/')).map((f) => f.slice('borealis/'.length)))
    for (const r of references) {
      assert.ok(fixtureFiles.includes(`borealis/${r.input}`), r.input)
      assert.equal(sha256(`borealis/${r.output}`), r.rawacf_sha256, r.output)
      assert.equal(sha256(`borealis/${r.output}.bz2`), r.bz2_sha256, `${r.output}.bz2`)
    }
  })
})
