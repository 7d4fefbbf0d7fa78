// Writes files in the Borealis v1.0 layout with h5wasm. This is support
// code for tests and benchmarks, not part of the data path: it makes "latest"-format copies of the
// reference fixtures, damaged variants (a record without a required dataset), and long synthetic
// files. Layout as Borealis writes it: /metadata with the file-level datasets, one group per record
// with its own datasets plus a hard link to every /metadata dataset; arrays chunked and gzip-9
// compressed, scalars contiguous. Differences from h5py output, none of which the reader or the
// converter depends on: booleans are int8 (h5wasm 0.10.3 cannot write HDF5 enums), strings are
// ASCII NUL-terminated rather than NUL-padded, and no attributes or dimension scales are written.
import {resolve} from 'node:path'

import {FormatError} from '../../errors.js'
import {type BorealisFile, openBorealisFile} from './borealis.js'
import {h5Call, type H5File, type H5Lib, loadH5wasm} from './h5wasm.js'
import type {HdfValue} from './values.js'

export interface WriteRecord {
  name: string
  fields: ReadonlyMap<string, HdfValue>
}

export interface BorealisWriteOptions {
  /** HDF5 object format: h5py's default ('earliest') or the newest ('latest'). */
  libver?: 'earliest' | 'latest'
  /** gzip level of array datasets (default 9, as Borealis); 0 = not compressed. */
  compression?: number
}

interface Encoded {
  bytes: Uint8Array
  meta: Record<string, unknown>
}

const encoder = new TextEncoder()

function encode(h5: H5Lib, value: HdfValue): Encoded | null {
  const {H5T_class_t} = h5.Module
  const view = (data: ArrayBufferView) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  const base = {littleEndian: true, vlen: false}
  switch (value.kind) {
    case 'int': {
      const signed = value.data instanceof Int8Array || value.data instanceof Int16Array || value.data instanceof Int32Array || value.data instanceof BigInt64Array
      return {bytes: view(value.data), meta: {...base, type: H5T_class_t.H5T_INTEGER.value, size: value.data.BYTES_PER_ELEMENT, signed}}
    }
    case 'float':
      return {bytes: view(value.data), meta: {...base, type: H5T_class_t.H5T_FLOAT.value, size: value.data.BYTES_PER_ELEMENT, signed: false}}
    case 'bool':
      return {bytes: view(Int8Array.from(value.data)), meta: {...base, type: H5T_class_t.H5T_INTEGER.value, size: 1, signed: true}}
    case 'complex': {
      const half = value.data.BYTES_PER_ELEMENT
      const member = (name: string, offset: number) => ({...base, name, offset, type: H5T_class_t.H5T_FLOAT.value, size: half, signed: false})
      return {
        bytes: view(value.data),
        meta: {...base, type: H5T_class_t.H5T_COMPOUND.value, size: 2 * half, signed: false, compound_type: {nmembers: 2, members: [member('r', 0), member('i', half)]}},
      }
    }
    case 'string': {
      const texts = value.data.map((s) => encoder.encode(s))
      const size = Math.max(1, ...texts.map((t) => t.length))
      const bytes = new Uint8Array(size * texts.length)
      texts.forEach((t, i) => bytes.set(t, i * size))
      return {bytes, meta: {...base, type: H5T_class_t.H5T_STRING.value, size, signed: false, cset: 0}}
    }
    case 'other':
      return null
  }
}

function createDataset(h5: H5Lib, file: H5File, path: string, value: HdfValue, compression: number): void {
  const encoded = encode(h5, value)
  if (!encoded) return
  const {Module} = h5
  const shape = value.shape.map(BigInt)
  const array = value.shape.length > 0
  const ptr = Module._malloc(Math.max(1, encoded.bytes.byteLength))
  try {
    Module.HEAPU8.set(encoded.bytes, ptr)
    const meta = {
      ...encoded.meta,
      shape,
      maxshape: shape,
      chunks: array ? value.shape.map((d) => BigInt(Math.max(1, d))) : null,
      compression: array && compression > 0 ? 1 : 0,
      compression_opts: array && compression > 0 ? [compression] : [],
      track_order: false,
    }
    Module.create_dataset(file.file_id, path, BigInt(ptr), meta as unknown as Parameters<typeof Module.create_dataset>[3])
  } finally {
    Module._free(ptr)
  }
}

/** Writes a Borealis-layout file. Records may be generated lazily (one in memory at a time). */
export async function writeBorealisFile(
  path: string,
  metadata: ReadonlyMap<string, HdfValue>,
  records: Iterable<WriteRecord> | AsyncIterable<WriteRecord>,
  options: BorealisWriteOptions = {},
): Promise<void> {
  const h5 = await loadH5wasm()
  const compression = options.compression ?? 9
  const file = h5Call(path, null, () => new h5.File(resolve(path), 'w', options.libver === 'latest' ? {libver: 'latest'} : {}))
  try {
    h5Call(path, '/metadata', () => {
      h5.Module.create_group(file.file_id, '/metadata', false)
      for (const [name, value] of metadata) createDataset(h5, file, `/metadata/${name}`, value, compression)
    })
    for await (const record of records) {
      const group = `/${record.name}`
      h5Call(path, group, () => {
        h5.Module.create_group(file.file_id, group, false)
        for (const [name, value] of record.fields) createDataset(h5, file, `${group}/${name}`, value, compression)
        for (const name of metadata.keys()) h5.Module.create_hard_link(file.file_id, `/metadata/${name}`, `${group}/${name}`)
      })
    }
  } finally {
    file.close()
  }
}

const RECORD_NAME = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})-(\d{2})\.(\d{6})$/

/**
 * A record moved in time by whole seconds: its group name (`YYYYmmdd-HHMM-SS.ffffff`, the first
 * sequence time) and its `sqn_timestamps`, the only times a Borealis record holds. The demo uses it
 * to make "the block that just ended" from a fixture, with data, name and content agreeing.
 */
export function shiftRecordTime(record: WriteRecord, seconds: number): WriteRecord {
  if (!Number.isInteger(seconds)) throw new RangeError(`shiftRecordTime: whole seconds only (got ${seconds})`)
  const m = RECORD_NAME.exec(record.name)
  if (!m) throw new RangeError(`shiftRecordTime: ${JSON.stringify(record.name)} is not a record name`)
  const t = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + seconds * 1000)
  const pad = (n: number) => String(n).padStart(2, '0')
  const name = `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}-${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}-${pad(t.getUTCSeconds())}.${m[7]}`
  const fields = new Map(record.fields)
  const times = fields.get('sqn_timestamps')
  if (times?.kind !== 'float') throw new RangeError(`shiftRecordTime: record ${record.name} has no sqn_timestamps`)
  fields.set('sqn_timestamps', {...times, data: Float64Array.from(times.data, (x) => x + seconds)})
  return {name, fields}
}

export interface CopyOptions extends BorealisWriteOptions {
  /** Change /metadata before writing (default: as read). */
  metadata?: (values: Map<string, HdfValue>) => Map<string, HdfValue>
  /** Change or drop (null) a record (default: as read). */
  record?: (record: WriteRecord, index: number) => WriteRecord | null
}

/** Rewrites a Borealis v1.0 file through the reader, e.g. into the "latest" HDF5 format. */
export async function copyBorealisFile(source: string, target: string, options: CopyOptions = {}): Promise<void> {
  let file: BorealisFile | undefined
  try {
    file = await openBorealisFile(source)
    const opened = file
    const metadata = new Map(opened.metadata.values)
    async function* records(): AsyncGenerator<WriteRecord> {
      for await (const record of opened.records()) {
        const copy = {name: record.name, fields: new Map(record.fields.values)}
        const out = options.record ? options.record(copy, record.index) : copy
        if (out) yield out
      }
    }
    await writeBorealisFile(target, options.metadata ? options.metadata(metadata) : metadata, records(), options)
  } catch (error) {
    throw error instanceof FormatError ? error : new FormatError(source, String(error))
  } finally {
    file?.close()
  }
}
