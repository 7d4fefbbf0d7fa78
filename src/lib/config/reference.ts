// README's configuration reference, generated from the schema defaults and CONFIG_DOCS so the
// two cannot drift (test/readme.test.ts compares README with this).
import YAML from 'yaml'

import {CONFIG_DOCS} from './docs.js'
import {defaultConfig} from './schema.js'

export const REFERENCE_BEGIN = '<!-- config-reference:begin (generated: npx tsx scripts/config-reference.ts) -->'
export const REFERENCE_END = '<!-- config-reference:end -->'

function valueAt(tree: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), tree)
}

export function configReference(): string {
  const defaults = defaultConfig()
  const rows = Object.entries(CONFIG_DOCS).map(([path, doc]) => {
    const value = valueAt(defaults, path)
    const shown = value === undefined ? '(unset)' : YAML.stringify(value, {collectionStyle: 'flow', lineWidth: 0}).trim()
    const env = `DATAFLOW_${path.split('.').map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`
    const cell = (s: string) => s.replaceAll('|', '\\|')
    return `| \`${path}\` | ${cell(doc.roles ? doc.roles.join(', ') : 'all')} | \`${cell(shown)}\` | ${cell(doc.help)}${doc.original ? ` Original: ${cell(doc.original)}.` : ''} | \`${env}\` |`
  })
  return [REFERENCE_BEGIN, '| key | roles | default | meaning | environment |', '|---|---|---|---|---|', ...rows, REFERENCE_END].join('\n')
}
