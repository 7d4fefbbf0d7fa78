// ESLint (flat config) for src/, test/, scripts/ and bin/: typescript-eslint's type-checked
// recommendations, the architecture's layers (eslint-plugin-boundaries) and no import cycles
// (eslint-plugin-import-x). Correctness only: no stylistic or formatting rule is turned on.
// `npm test` runs it (test/static-checks.test.ts); `npm run lint` alone.
import js from '@eslint/js'
import {defineConfig} from 'eslint/config'
import boundaries from 'eslint-plugin-boundaries'
import {createTypeScriptImportResolver} from 'eslint-import-resolver-typescript'
import importX from 'eslint-plugin-import-x'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/** The layers, by path (first match wins, so stages and daemon come before the rest of lib). */
const LAYERS = [
  {type: 'entry', pattern: ['src/cli.ts', 'src/bundle-entry.ts']},
  {type: 'commands', pattern: 'src/commands/**'},
  {type: 'roles', pattern: 'src/roles/**'},
  {type: 'stages', pattern: 'src/lib/stages/**'},
  {type: 'daemon', pattern: 'src/lib/daemon/**'},
  {type: 'plotting', pattern: 'src/plotting/**'},
  {type: 'lib', pattern: 'src/lib/**'},
]
/** Which layer may import which (static imports, `export … from`, dynamic `import()`, types too). */
const ALLOWED = {
  entry: ['entry', 'commands', 'lib'],
  commands: ['commands', 'roles', 'stages', 'daemon', 'plotting', 'lib'],
  // roles/doctor.ts renders a line of text through src/plotting to prove the fonts work.
  roles: ['roles', 'stages', 'daemon', 'plotting', 'lib'],
  stages: ['stages', 'lib', 'plotting'],
  daemon: ['daemon', 'lib'],
  plotting: ['plotting', 'lib'],
  lib: ['lib'],
}

const TS = ['src/**/*.ts', 'test/**/*.ts', 'scripts/**/*.ts']
const JS = ['**/*.js', '**/*.mjs', '**/*.cjs']

export default defineConfig(
  {ignores: ['node_modules/', 'build/', 'dist/', 'demo-sandbox/', '.bench/', 'test/fixtures/', 'test/snapshots/']},
  js.configs.recommended,
  // `catch {}` is this codebase's idiom for a best-effort step (a stat, a cleanup); other empty blocks stay errors.
  {rules: {'no-empty': ['error', {allowEmptyCatch: true}]}},
  {
    files: TS,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname}},
    rules: {
      // node:test's describe/it/test return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {allowForKnownSafeCalls: [{from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite']}]}],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_'}],
      // Off: an async function without await is deliberate here: oclif's run()/parse() overrides and
      // AsyncIterable producers are async by contract, and async turns a synchronous throw into a rejection.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Plain JavaScript (bin/dev.js, scripts/*.mjs|cjs, this file): not in tsconfig.json, so the
    // untyped recommendations only.
    files: JS,
    extends: [tseslint.configs.recommended],
    languageOptions: {sourceType: 'module', globals: globals.node},
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_'}],
    },
  },
  {
    // scripts/sea-main.cjs is CommonJS by necessity (a single executable's main script), so require()
    // is its import, and its top level is a module function's scope: `const crypto = require(…)` there
    // shadows the global crypto, it does not redeclare it.
    files: ['**/*.cjs'],
    languageOptions: {sourceType: 'commonjs', globals: globals.node},
    rules: {'@typescript-eslint/no-require-imports': 'off', 'no-redeclare': ['error', {builtinGlobals: false}]},
  },
  {
    files: ['src/**/*.ts'],
    plugins: {boundaries, 'import-x': importX},
    settings: {
      // File descriptors, not element (folder) descriptors: the entry layer is two single files.
      'boundaries/files': LAYERS.map(({type, pattern}) => ({category: type, pattern})),
      'boundaries/files-single-match': true,
      'boundaries/dependency-nodes': ['import', 'export', 'dynamic-import'],
      'boundaries/include': ['src/**/*.ts'],
      // The same resolver for both plugins: `./x.js` in an import is the file ./x.ts (NodeNext).
      'import/resolver': {typescript: {project: 'tsconfig.json'}},
      'import-x/resolver-next': [createTypeScriptImportResolver({project: 'tsconfig.json'})],
      'import-x/parsers': {'@typescript-eslint/parser': ['.ts']},
      'import-x/extensions': ['.ts', '.js'],
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
    },
    rules: {
      'boundaries/dependencies': ['error', {
        default: 'disallow',
        policies: Object.entries(ALLOWED).map(([from, to]) => ({
          from: {file: {categories: from}},
          allow: {to: {file: {categories: {anyOf: to}}}},
        })),
      }],
      // Type-only imports count too: a cycle through types is still a cycle of modules to untangle.
      'import-x/no-cycle': ['error', {ignoreExternal: true}],
    },
  },
)
