// `config init --role R`: a commented example config holding the keys that role reads, with the
// built-in defaults as values. The text validates as is (a test loads it back).
import YAML from 'yaml'

import {CONFIG_DOCS} from './docs.js'
import {defaultConfig, type Role} from './schema.js'

const HOST_EXAMPLE = '{target: user@host.example, port: 22, identityFile: ~/.ssh/id_ed25519, knownHostsFile: ~/.ssh/known_hosts}'

function relevant(path: string, role: Role): boolean {
  const doc = CONFIG_DOCS[path]
  return !doc?.roles || doc.roles.includes(role)
}

function scalar(value: unknown): string {
  return YAML.stringify(value, {flowCollectionPadding: false, collectionStyle: 'flow', lineWidth: 0}).trimEnd()
}

export function configTemplate(role: Role, radar?: string): string {
  const defaults = defaultConfig() as unknown as Record<string, unknown>
  const lines: string[] = [
    `# dataflow configuration for the ${role} role.`,
    '# Every key is optional: a missing key takes the default shown. Unknown keys are errors.',
    '# Paths may start with ~/ and contain {radar}. Environment variables override this file:',
    '# DATAFLOW_<KEY>__<SUBKEY>=value, e.g. DATAFLOW_ALERTS__SLACK_WEBHOOK=https://hooks.slack.com/…',
    '',
  ]
  const docLine = (path: string, indent: string) => {
    const doc = CONFIG_DOCS[path]
    if (!doc) return
    lines.push(`${indent}# ${doc.help}${doc.original ? ` (original: ${doc.original})` : ''}`)
  }
  const emit = (key: string, path: string, value: unknown, indent: string) => {
    docLine(path, indent)
    lines.push(`${indent}${key}: ${scalar(value)}`)
  }

  docLine('radar', '')
  lines.push(radar ? `radar: ${radar}` : '# radar: sas')
  for (const [key, value] of Object.entries(defaults)) {
    if (key === 'radar') continue
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const children = Object.entries(value).filter(([child]) => relevant(`${key}.${child}`, role))
      const optional = Object.keys(CONFIG_DOCS).filter(
        (p) => p.startsWith(`${key}.`) && !(p.slice(key.length + 1) in value) && relevant(p, role),
      )
      if (children.length === 0 && optional.length === 0) continue
      lines.push('', `${key}:`)
      for (const [child, childValue] of children) {
        const path = `${key}.${child}`
        if (key === 'hosts' && childValue === null) {
          docLine(path, '  ')
          lines.push(`  ${child}: null   # e.g. ${HOST_EXAMPLE}`)
          continue
        }
        emit(child, path, childValue, '  ')
      }
      for (const path of optional) {
        docLine(path, '  ')
        lines.push(`  # ${path.slice(key.length + 1)}:`)
      }
      continue
    }
    if (!relevant(key, role)) continue
    lines.push('')
    emit(key, key, value, '')
  }
  return `${lines.join('\n')}\n`
}
