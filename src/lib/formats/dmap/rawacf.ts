// The DMAP rawacf record format: its field set and types, the strict check pyDARNio v2 applies
// when reading (darn-dmap `check_fields`), and darn-dmap's canonical write order.
import type {DmapArray, DmapRecord, DmapScalar, DmapType} from './types.js'

/** The 47 required scalars, in canonical write order. */
export const RAWACF_SCALARS: ReadonlyArray<readonly [string, DmapType]> = [
  ['radar.revision.major', 'char'],
  ['radar.revision.minor', 'char'],
  ['origin.code', 'char'],
  ['origin.time', 'string'],
  ['origin.command', 'string'],
  ['cp', 'short'],
  ['stid', 'short'],
  ['time.yr', 'short'],
  ['time.mo', 'short'],
  ['time.dy', 'short'],
  ['time.hr', 'short'],
  ['time.mt', 'short'],
  ['time.sc', 'short'],
  ['time.us', 'int'],
  ['txpow', 'short'],
  ['nave', 'short'],
  ['atten', 'short'],
  ['lagfr', 'short'],
  ['smsep', 'short'],
  ['ercod', 'short'],
  ['stat.agc', 'short'],
  ['stat.lopwr', 'short'],
  ['noise.search', 'float'],
  ['noise.mean', 'float'],
  ['channel', 'short'],
  ['bmnum', 'short'],
  ['bmazm', 'float'],
  ['scan', 'short'],
  ['offset', 'short'],
  ['rxrise', 'short'],
  ['intt.sc', 'short'],
  ['intt.us', 'int'],
  ['txpl', 'short'],
  ['mpinc', 'short'],
  ['mppul', 'short'],
  ['mplgs', 'short'],
  ['nrang', 'short'],
  ['frang', 'short'],
  ['rsep', 'short'],
  ['xcf', 'short'],
  ['tfreq', 'short'],
  ['mxpwr', 'int'],
  ['lvmax', 'int'],
  ['rawacf.revision.major', 'int'],
  ['rawacf.revision.minor', 'int'],
  ['combf', 'string'],
  ['thr', 'float'],
]

/** Optional scalars (darn-dmap 0.8.2), all SHORT, in write order. */
export const RAWACF_OPTIONAL_SCALARS: ReadonlyArray<readonly [string, DmapType]> = [
  ['mplgexs', 'short'],
  ['ifmode', 'short'],
  ['widetx', 'short'],
]

/** Required arrays, in write order. */
export const RAWACF_ARRAYS: ReadonlyArray<readonly [string, DmapType]> = [
  ['ptab', 'short'],
  ['ltab', 'short'],
  ['pwr0', 'float'],
  ['slist', 'short'],
  ['acfd', 'float'],
]

export const RAWACF_OPTIONAL_ARRAYS: ReadonlyArray<readonly [string, DmapType]> = [['xcfd', 'float']]

const ALL_FIELDS = new Set([...RAWACF_SCALARS, ...RAWACF_OPTIONAL_SCALARS, ...RAWACF_ARRAYS, ...RAWACF_OPTIONAL_ARRAYS].map(([name]) => name))

/**
 * Strict rawacf validation (pyDARNio v2): no unknown field, every required field present with exactly
 * its type, optional fields (if present) with theirs. Dimensions and values are not checked.
 * Returns the reason the record is invalid, or undefined when it is valid.
 */
export function validateRawacf(record: DmapRecord): string | undefined {
  const unknown = [...record.scalars.keys(), ...record.arrays.keys()].filter((name) => !ALL_FIELDS.has(name))
  if (unknown.length > 0) {
    const named = unknown.slice(0, 5).map((n) => `'${n}'`).join(', ')
    return `unsupported rawacf field(s) ${named}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`
  }
  const scalar = (name: string, type: DmapType, required: boolean): string | undefined => {
    const found = record.scalars.get(name)
    if (found === undefined) {
      if (record.arrays.has(name)) return `field '${name}' is an array, expected a scalar`
      return required ? `required scalar '${name}' is missing` : undefined
    }
    return found.type === type ? undefined : `field '${name}' has type ${found.type}, expected ${type}`
  }
  const array = (name: string, type: DmapType, required: boolean): string | undefined => {
    const found = record.arrays.get(name)
    if (found === undefined) {
      if (record.scalars.has(name)) return `field '${name}' is a scalar, expected an array`
      return required ? `required array '${name}' is missing` : undefined
    }
    return found.type === type ? undefined : `field '${name}' has type ${found.type}, expected ${type}`
  }
  for (const [name, type] of RAWACF_SCALARS) {
    const problem = scalar(name, type, true)
    if (problem) return problem
  }
  for (const [name, type] of RAWACF_OPTIONAL_SCALARS) {
    const problem = scalar(name, type, false)
    if (problem) return problem
  }
  for (const [name, type] of RAWACF_ARRAYS) {
    const problem = array(name, type, true)
    if (problem) return problem
  }
  for (const [name, type] of RAWACF_OPTIONAL_ARRAYS) {
    const problem = array(name, type, false)
    if (problem) return problem
  }
  return undefined
}

/**
 * The same record with its fields in darn-dmap's canonical rawacf order; unknown fields
 * keep their relative order after the known ones. Values are shared, not copied.
 */
export function inRawacfOrder(record: DmapRecord): DmapRecord {
  const scalars = new Map<string, DmapScalar>()
  const arrays = new Map<string, DmapArray>()
  for (const [name] of [...RAWACF_SCALARS, ...RAWACF_OPTIONAL_SCALARS]) {
    const value = record.scalars.get(name)
    if (value) scalars.set(name, value)
  }
  for (const [name, value] of record.scalars) if (!scalars.has(name)) scalars.set(name, value)
  for (const [name] of [...RAWACF_ARRAYS, ...RAWACF_OPTIONAL_ARRAYS]) {
    const value = record.arrays.get(name)
    if (value) arrays.set(name, value)
  }
  for (const [name, value] of record.arrays) if (!arrays.has(name)) arrays.set(name, value)
  return {scalars, arrays}
}
