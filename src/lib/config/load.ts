// Loading order: command-line flags > DATAFLOW_* environment > YAML file > built-in defaults.
// The file is `--config`, else $DATAFLOW_CONFIG, else /etc/dataflow/config.yaml; when the
// default file does not exist the defaults apply, but a file named explicitly must exist.
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {isAbsolute, join, resolve} from 'node:path'
import YAML from 'yaml'
import type {z} from 'zod'

import {ConfigError} from '../errors.js'
import {type Config, ConfigSchema, defaultConfig, REMOVED_KEYS, SECRET_PATHS} from './schema.js'

export const DEFAULT_CONFIG_FILE = '/etc/dataflow/config.yaml'
export const ENV_PREFIX = 'DATAFLOW_'
/** DATAFLOW_* variables that are not config keys. */
const RESERVED_ENV = new Set(['DATAFLOW_CONFIG', 'DATAFLOW_CACHE_DIR', 'DATAFLOW_BINARY'])

export interface LoadOptions {
  /** Path given with --config. */
  file?: string
  env?: NodeJS.ProcessEnv
  /** Values from command-line flags, as a partial config tree. */
  overrides?: Record<string, unknown>
}

export interface LoadedConfig {
  config: Config
  /** The file that was read, or null when only defaults and environment applied. */
  source: string | null
}

type Tree = Record<string, unknown>

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = {...base}
  for (const [key, value] of Object.entries(over)) {
    const current = out[key]
    out[key] = isTree(current) && isTree(value) ? deepMerge(current, value) : value
  }
  return out
}

function camelToEnv(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

/**
 * DATAFLOW_ALERTS__SLACK_WEBHOOK=… sets alerts.slackWebhook: `__` separates levels and each level
 * is the key in upper snake case. Values are read as YAML scalars or flow sequences, so
 * `DATAFLOW_CPIDS__DISTRIBUTED='[151, 157]'` works. Unknown names are errors naming the variable.
 */
export function envOverrides(env: NodeJS.ProcessEnv): {tree: Tree; problems: string[]} {
  const template = defaultConfig() as unknown as Tree
  const tree: Tree = {}
  const problems: string[] = []
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV.has(name) || raw === undefined) continue
    const segments = name.slice(ENV_PREFIX.length).split('__')
    let level: unknown = template
    let target = tree
    const keys: string[] = []
    let known = true
    for (const segment of segments) {
      const key = isTree(level) ? Object.keys(level).find((k) => camelToEnv(k) === segment) : undefined
      const schemaKey = key ?? optionalKeyFor(keys, segment)
      if (schemaKey === undefined) {
        known = false
        break
      }
      keys.push(schemaKey)
      level = isTree(level) ? level[schemaKey] : undefined
    }
    if (!known) {
      const removed = Object.entries(REMOVED_KEYS).find(([key]) => name.startsWith(ENV_PREFIX + key.split('.').map(camelToEnv).join('__')))
      problems.push(removed ? `${name}: ${removed[0]} ${removed[1]}` : `${name}: unknown configuration variable`)
      continue
    }
    let value: unknown
    try {
      value = raw === '' ? undefined : YAML.parse(raw)
    } catch {
      value = raw
    }
    if (typeof value === 'number' && isStringKey(keys)) value = raw
    for (const key of keys.slice(0, -1)) {
      if (!isTree(target[key])) target[key] = {}
      target = target[key] as Tree
    }
    target[keys.at(-1)!] = value
  }
  return {tree, problems}
}

/** Keys that are optional (absent from the defaults) still have to be settable from the environment. */
const OPTIONAL_KEYS: Record<string, string[]> = {
  '': ['radar'],
  borealis: ['configFile'],
  alerts: ['slackWebhook'],
  'hosts.siteLinux': ['target', 'port', 'identityFile', 'knownHostsFile', 'bandwidthLimitKBps'],
  'hosts.campus': ['target', 'port', 'identityFile', 'knownHostsFile', 'bandwidthLimitKBps'],
  'hosts.telemetry': ['target', 'port', 'identityFile', 'knownHostsFile', 'bandwidthLimitKBps'],
}

function optionalKeyFor(parents: string[], segment: string): string | undefined {
  return OPTIONAL_KEYS[parents.join('.')]?.find((k) => camelToEnv(k) === segment)
}

function isStringKey(keys: string[]): boolean {
  const leaf = keys.at(-1)
  return leaf === 'radar' || leaf === 'target' || leaf === 'mode' || leaf === 'slackWebhook'
}

/** Turns zod issues into one line per problem, each naming the key path. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = []
  for (const issue of issues) {
    const at = issue.path.map(String).join('.')
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${at ? `${at}.` : ''}${key}: unknown key`)
      continue
    }
    lines.push(`${at || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')}`)
  }
  return lines
}

function readConfigFile(file: string): Tree {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`${file}: cannot read config file (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  const doc = YAML.parseDocument(text, {prettyErrors: true, uniqueKeys: true})
  if (doc.errors.length > 0) {
    // The first error is the useful one; the rest are usually its consequences.
    const problems = doc.errors.slice(0, 3).map((e) => `${file}: ${e.message.split('\n')[0]}`)
    throw new ConfigError(`${file}: invalid YAML`, problems)
  }
  const value = doc.toJS() as unknown
  if (value === null || value === undefined) return {}
  if (!isTree(value)) throw new ConfigError(`${file}: the top level must be a mapping of keys`)
  return value
}

export function configFilePath(options: LoadOptions): {path: string; explicit: boolean} {
  const env = options.env ?? process.env
  if (options.file) return {path: resolve(options.file), explicit: true}
  if (env.DATAFLOW_CONFIG) return {path: resolve(env.DATAFLOW_CONFIG), explicit: true}
  return {path: DEFAULT_CONFIG_FILE, explicit: false}
}

/** Loads and validates; a ConfigError lists every problem found, each with its key path. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env
  const {path: file, explicit} = configFilePath(options)
  let fileTree: Tree = {}
  let source: string | null = null
  try {
    fileTree = readConfigFile(file)
    source = file
  } catch (error) {
    const missing = error instanceof ConfigError && /\(ENOENT\)$/.test(error.message)
    if (!missing || explicit) throw error
  }
  const {tree: envTree, problems} = envOverrides(env)
  const merged = deepMerge(deepMerge(fileTree, envTree), options.overrides ?? {})
  const removed = takeRemovedKeys(merged)
  const result = ConfigSchema.safeParse(merged)
  const all = [...problems, ...removed, ...(result.success ? [] : describeIssues(result.error.issues))]
  if (all.length > 0 || !result.success) {
    const where = source ?? 'built-in defaults'
    throw new ConfigError(`invalid configuration (${where}): ${all.length} problem${all.length === 1 ? '' : 's'}`, all)
  }
  return {config: result.data, source}
}

/** Removes keys that no longer exist from the tree, returning one problem (with the reason) for each. */
function takeRemovedKeys(tree: Tree): string[] {
  const problems: string[] = []
  for (const [path, reason] of Object.entries(REMOVED_KEYS)) {
    const keys = path.split('.')
    let node: unknown = tree
    for (const key of keys.slice(0, -1)) node = isTree(node) ? node[key] : undefined
    const leaf = keys.at(-1)!
    if (isTree(node) && leaf in node) {
      delete node[leaf]
      problems.push(`${path}: ${reason}`)
    }
  }
  return problems
}

/** A copy safe to print: secrets replaced. */
export function maskSecrets(config: Config): Config {
  const copy = structuredClone(config) as unknown as Tree
  for (const secret of SECRET_PATHS) {
    const keys = secret.split('.')
    let node: unknown = copy
    for (const key of keys.slice(0, -1)) node = isTree(node) ? node[key] : undefined
    const leaf = keys.at(-1)!
    if (isTree(node) && node[leaf] !== undefined) node[leaf] = '********'
  }
  return copy as unknown as Config
}

/** Expands `~/` to the home directory and `{radar}` to the radar id. */
export function resolvePath(template: string, vars: {radar?: string; home?: string} = {}): string {
  let out = template
  if (out === '~' || out.startsWith('~/')) out = join(vars.home ?? homedir(), out.slice(1))
  if (out.includes('{radar}')) {
    if (!vars.radar) throw new ConfigError(`path "${template}" needs a radar id (--radar or the radar key)`)
    out = out.replaceAll('{radar}', vars.radar)
  }
  if (!isAbsolute(out)) throw new ConfigError(`path "${template}" must be absolute (or start with ~/)`)
  return out
}

/** The radar to act for: the --radar flag, else the config's radar; checked against validRadars. */
export function requireRadar(config: Config, flag?: string): string {
  const radar = flag ?? config.radar
  if (!radar) throw new ConfigError('no radar id: pass --radar or set the radar key')
  if (!config.validRadars.includes(radar)) {
    throw new ConfigError(`radar "${radar}" is not one of validRadars (${config.validRadars.join(', ')})`)
  }
  return radar
}
