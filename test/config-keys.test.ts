// Every config key does something: the configuration is read in one place, the role layout
// (src/roles/layout.ts), plus the radar choice. Resolving every role's layout for every radar
// through a recording proxy must touch every key of the schema; a key nothing reads fails here.
import assert from 'node:assert/strict'
import {it} from 'node:test'

import {loadConfig, requireRadar} from '../src/lib/config/load.js'
import {type Config, ConfigSchema, REMOVED_KEYS, ROLES} from '../src/lib/config/schema.js'
import {ConfigError} from '../src/lib/errors.js'
import {resolveRoleLayout, roleWritePaths} from '../src/roles/layout.js'

/** Leaf key paths of a config tree; arrays and host objects (read as a whole by the transports) are leaves. */
function leaves(tree: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = []
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix + key
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !path.startsWith('hosts.')) out.push(...leaves(value as Record<string, unknown>, `${path}.`))
    else out.push(path)
  }
  return out
}

/** A proxy over the config that records every leaf path read. */
function recording(config: Config, read: Set<string>): Config {
  const wrap = (node: unknown, prefix: string): unknown => {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || (prefix.startsWith('hosts.') && prefix !== 'hosts.')) {
      read.add(prefix.slice(0, -1))
      return node
    }
    return new Proxy(node, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown
        if (typeof key !== 'string') return value
        if (value === undefined) {
          read.add(prefix + key)
          return value
        }
        return wrap(value, `${prefix}${key}.`)
      },
    })
  }
  return wrap(config, '') as Config
}

it('every key of the schema is read by the role layouts or the radar choice', () => {
  // Optional keys set, so that they exist as leaves.
  const config = ConfigSchema.parse({
    radar: 'sas',
    borealis: {configFile: '/etc/borealis.json'},
    alerts: {slackWebhook: 'https://hooks.slack.com/services/T/B/X'},
    nasSites: ['sas'],
  })
  const schemaKeys = leaves(config)
  const read = new Set<string>()
  const proxied = recording(config, read)
  requireRadar(proxied)
  for (const role of ROLES) {
    for (const radar of ['sas', 'pgr']) {
      try {
        resolveRoleLayout(proxied, role, radar, {home: '/home/x'})
      } catch (error) {
        // The Borealis config file does not exist here: everything else of the role was read before.
        if (!(error instanceof ConfigError)) throw error
      }
    }
  }
  const withoutConfigFile = recording(ConfigSchema.parse({radar: 'sas'}), read)
  for (const role of ROLES) roleWritePaths(withoutConfigFile, role, undefined, {home: '/home/x'})
  const unread = schemaKeys.filter((key) => !read.has(key))
  assert.deepEqual(unread, [], 'keys that nothing reads (implement them, or add them to REMOVED_KEYS with the reason)')
})

it('the removed keys are rejected with the reason, from the file and from the environment', () => {
  for (const [key, reason] of Object.entries(REMOVED_KEYS)) {
    const tree: Record<string, unknown> = {}
    const parts = key.split('.')
    let node = tree
    for (const part of parts.slice(0, -1)) node = (node[part] = {})
    node[parts.at(-1)!] = []
    assert.throws(
      () => loadConfig({env: {}, overrides: tree}),
      (error: unknown) => error instanceof ConfigError && error.problems.includes(`${key}: ${reason}`),
      key,
    )
  }
  assert.throws(
    () => loadConfig({env: {DATAFLOW_LOW_MEMORY_SITES: '[sas]'}}),
    (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith('DATAFLOW_LOW_MEMORY_SITES: lowMemorySites removed')),
  )
})
