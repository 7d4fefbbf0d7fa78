// Renders DMAP records for `dataflow dmap dump`: as JSON in exactly the shape of the reference
// dumps in test/fixtures (`{"records": [{field: {"type", "value"[, "shape"]}}]}`, fields in
// file order, `shape` row-major, values nested lists), or as a listing for people.
//
// Numbers: binary32 values are printed as the shortest decimal that reads back as the same
// binary32 (the fixtures' convention; compare with Math.fround), binary64 as the shortest that
// reads back as the same binary64, 64-bit integers exactly (as JSON numbers, digits not rounded
// to a double). JSON has no NaN or infinity: they are written as the strings "NaN", "Infinity",
// "-Infinity".
import {basename} from 'node:path'

import {type DmapReadOptions, readDmapFile} from './reader.js'
import type {DmapArray, DmapRecord, DmapScalar} from './types.js'

export const DUMP_CONVENTIONS =
  "One object per DMAP record, fields in file order. Scalars: {type, value}. Arrays: {type, shape, value} with shape in C (row-major) order, i.e. the reverse of the dimension list stored in the DMAP file; value is the nested list. 'float' (binary32) values are printed as the shortest decimal that round-trips to the same binary32 (compare with Math.fround(x)); 'double' values as shortest round-trip binary64."

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return '"NaN"'
  if (x === Infinity) return '"Infinity"'
  if (x === -Infinity) return '"-Infinity"'
  return undefined
}

/** Python prints integral floats with ".0"; keep that, so a float never looks like an int. */
function pythonic(text: string): string {
  return /^-?\d+$/.test(text) ? `${text}.0` : text
}

/** Shortest decimal that reads back (rounded to binary32) as the same binary32 value. */
export function float32Text(x: number): string {
  const special = nonFinite(x)
  if (special) return special
  const f = Math.fround(x)
  if (f === 0) return Object.is(f, -0) ? '-0.0' : '0.0'
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(f.toPrecision(digits))
    if (Math.fround(candidate) === f) return pythonic(String(candidate))
  }
  return pythonic(String(f))
}

export function float64Text(x: number): string {
  const special = nonFinite(x)
  if (special) return special
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  return pythonic(String(x))
}

function elementText(type: DmapArray['type'] | DmapScalar['type'], value: number | bigint | string): string {
  switch (type) {
    case 'float':
      return float32Text(value as number)
    case 'double':
      return float64Text(value as number)
    case 'string':
      return JSON.stringify(value)
    default:
      return String(value) // integers, bigint included: exact digits
  }
}

/** The nested row-major list of an array as JSON text. */
function nestedText(array: DmapArray): string {
  const {shape, data, type} = array
  const parts: string[] = []
  let index = 0
  const walk = (depth: number): void => {
    parts.push('[')
    const extent = shape[depth]!
    for (let i = 0; i < extent; i++) {
      if (i > 0) parts.push(',')
      if (depth === shape.length - 1) parts.push(elementText(type, data[index++]!))
      else walk(depth + 1)
    }
    parts.push(']')
  }
  walk(0)
  return parts.join('')
}

/** One record as a JSON object text, fields in file order (all scalars precede all arrays in a file). */
export function recordJsonText(record: DmapRecord): string {
  const fields: string[] = []
  for (const [name, s] of record.scalars) {
    fields.push(`${JSON.stringify(name)}:{"type":${JSON.stringify(s.type)},"value":${elementText(s.type, s.value)}}`)
  }
  for (const [name, a] of record.arrays) {
    fields.push(`${JSON.stringify(name)}:{"type":${JSON.stringify(a.type)},"shape":${JSON.stringify(a.shape)},"value":${nestedText(a)}}`)
  }
  return `{${fields.join(',')}}`
}

/** The DMAP format named by a file name (`….rawacf.bz2` → rawacf), else "dmap". */
export function dmapFormatFromName(path: string): string {
  const name = basename(path).replace(/\.bz2$/, '')
  const ext = /\.([a-z]+)$/.exec(name)?.[1]
  return ext && ['rawacf', 'fitacf', 'iqdat', 'grid', 'map', 'snd'].includes(ext) ? ext : 'dmap'
}

/** Inclusive 0-based record range; `to` undefined = to the end. */
export interface RecordRange {
  from: number
  to?: number
}

/** Parses "a..b", "a..", "..b" or "a" (0-based, inclusive). */
export function parseRecordRange(text: string): RecordRange {
  const match = /^(\d*)(\.\.)?(\d*)$/.exec(text.trim())
  if (!match || (match[1] === '' && match[3] === '') || (!match[2] && match[3] !== '')) {
    throw new RangeError(`invalid record range '${text}' (expected a..b, a.., ..b or a; 0-based, inclusive)`)
  }
  const from = match[1] === '' ? 0 : Number(match[1])
  const to = match[2] ? (match[3] === '' ? undefined : Number(match[3])) : from
  if (to !== undefined && to < from) throw new RangeError(`invalid record range '${text}': ${to} < ${from}`)
  return {from, to}
}

const inRange = (index: number, range?: RecordRange) => !range || (index >= range.from && (range.to === undefined || index <= range.to))

export interface DumpOptions extends Pick<DmapReadOptions, 'mode' | 'signal' | 'bzip2'> {
  range?: RecordRange
  /** Written to `reader` in the JSON header. */
  readerVersion?: string
}

export interface DumpSummary {
  records: number
  shown: number
  compressed: boolean
  damage?: {offset: number; index: number; reason: string}
}

/**
 * Streams the JSON dump of a file to `write` (awaited, so backpressure holds). The file is read
 * twice: once to count and check it, so nothing is written for a file that strict reading
 * rejects and `num_records` can precede the records as in the fixtures; then to render.
 */
export async function dumpDmapJson(path: string, write: (text: string) => Promise<void>, options: DumpOptions = {}): Promise<DumpSummary> {
  const first = readDmapFile(path, {mode: options.mode, signal: options.signal, bzip2: options.bzip2})
  let total = 0
  for await (const _ of first) total++
  const header = {
    source: basename(path),
    format: dmapFormatFromName(path),
    bzip2_compressed_input: first.compressed,
    reader: {library: 'dataflow', version: options.readerVersion ?? 'unknown'},
    conventions: DUMP_CONVENTIONS,
    num_records: total,
    ...(options.range ? {first_record: options.range.from} : {}),
    ...(first.damage ? {damage: {offset: first.damage.offset, index: first.damage.index, reason: first.damage.reason}} : {}),
  }
  await write(`${JSON.stringify(header).slice(0, -1)},"records":[`)
  let shown = 0
  const second = readDmapFile(path, {mode: 'lax', signal: options.signal, bzip2: options.bzip2})
  for await (const {index, record} of second) {
    if (index >= total) break
    if (options.range?.to !== undefined && index > options.range.to) break
    if (!inRange(index, options.range)) continue
    await write(`${shown > 0 ? ',' : ''}${recordJsonText(record)}`)
    shown++
  }
  await write(']}\n')
  return {records: total, shown, compressed: first.compressed, damage: header.damage}
}

const MAX_LISTED_VALUES = 8

function listValue(type: DmapScalar['type'], value: number | bigint | string): string {
  return type === 'float' || type === 'double' ? elementText(type, value).replace(/"/g, '') : elementText(type, value)
}

/** A record for people: one line per field, arrays abbreviated. */
export function recordListing(index: number, offset: number, size: number, record: DmapRecord): string[] {
  const lines = [`record ${index} at byte ${offset}: ${size} bytes, ${record.scalars.size} scalars, ${record.arrays.size} arrays`]
  const width = Math.max(0, ...[...record.scalars.keys(), ...record.arrays.keys()].map((n) => n.length))
  for (const [name, s] of record.scalars) lines.push(`  ${name.padEnd(width)}  ${s.type.padEnd(6)}  ${listValue(s.type, s.value)}`)
  for (const [name, a] of record.arrays) {
    const shown = Array.from(a.data.subarray(0, MAX_LISTED_VALUES) as ArrayLike<number | bigint>, (v) => listValue(a.type, v))
    const more = a.data.length > MAX_LISTED_VALUES ? `, … (${a.data.length} values)` : ''
    lines.push(`  ${name.padEnd(width)}  ${a.type.padEnd(6)}  [${a.shape.join('][')}] ${shown.join(', ')}${more}`)
  }
  return lines
}

/** Streams the listing of a file to `write`, record by record. */
export async function dumpDmapListing(path: string, write: (text: string) => Promise<void>, options: DumpOptions = {}): Promise<DumpSummary> {
  const reader = readDmapFile(path, {mode: options.mode, signal: options.signal, bzip2: options.bzip2})
  let shown = 0
  for await (const {index, offset, size, record} of reader) {
    if (options.range?.to !== undefined && index > options.range.to) break
    if (!inRange(index, options.range)) continue
    await write(`${recordListing(index, offset, size, record).join('\n')}\n`)
    shown++
  }
  const damage = reader.damage && {offset: reader.damage.offset, index: reader.damage.index, reason: reader.damage.reason}
  return {records: reader.records, shown, compressed: reader.compressed, damage}
}
