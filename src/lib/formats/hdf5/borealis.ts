// Reader for Borealis v1.0+ HDF5 files, `rawacf` and `antennas_iq`, on h5wasm.
//
// Usage:
//
//   const file = await openBorealisFile('/data/20231004.1400.00.sas.0.antennas_iq.h5')
//   try {
//     file.type                     // 'rawacf' | 'antennas_iq' | 'bfiq' | 'unknown'
//     file.version                  // {gitHash: 'v1.0', major: 1, minor: 0}
//     file.metadata.string('station')            // file-level fields (/metadata), typed getters
//     for await (const record of file.records()) {                 // one group at a time
//       const iq = antennasIqRecord(record)      // typed view, or record.fields.complex('…')
//     }
//   } finally {
//     file.close()
//   }
//
// Contract:
// - Records are the top-level groups other than `metadata`, in sorted name order (which is
//   chronological: `YYYYMMDD-HHMM-SS.ffffff`), exactly as pyDARNio orders them.
// - Only one record's datasets are held at a time, so memory stays flat for a 2-hour file.
//   `records({datasets})` reads only the named datasets (the converter skips intf_acfs etc.).
// - A record's fields are its own datasets; the hard links every record carries to the /metadata
//   datasets are not read again (pyDARNio drops them too). Read file-level fields from `metadata`.
// - Both the default ("earliest") and the "latest" HDF5 object formats work (libhdf5 2.0 inside
//   h5wasm). Attributes (descriptions, units, dimension scales and labels) are never read.
// - Pre-v1.0 files (array- or site-structured, `borealis_git_hash` as an attribute, or a v0.x hash)
//   are rejected with a FormatError saying so; so are files that are not HDF5 at all.
// - Every failure is a FormatError(file, one-line reason): h5wasm's thrown strings and HDF5 error
//   stacks are converted in h5wasm.ts.
// - Synchronous underneath (WebAssembly); the async iterator exists so callers can interleave
//   their own I/O (e.g. streaming output) between records.
import {constants} from 'node:fs'
import {access, stat} from 'node:fs/promises'
import {resolve} from 'node:path'

import {FormatError} from '../../errors.js'
import {parseBorealisName} from '../names.js'
import {h5Call, h5Error, type H5File, type H5Lib, loadH5wasm, RawReader} from './h5wasm.js'
import {decodeRaw, describeType, HdfFields, type HdfValue, readsRawBytes} from './values.js'

export type BorealisFileType = 'rawacf' | 'antennas_iq' | 'bfiq' | 'unknown'

export interface BorealisVersion {
  /** `borealis_git_hash` as written, e.g. `v1.0` or `v1.0-3-g1a2b3c4`. */
  gitHash: string
  major: number
  minor: number
}

export interface BorealisRecord {
  /** Group name, `YYYYMMDD-HHMM-SS.ffffff` (UTC of the first sequence). */
  name: string
  /** 0-based position in sorted order. */
  index: number
  /** The record-level datasets (see the contract above). */
  fields: HdfFields
}

export interface RecordReadOptions {
  /** Read only these datasets (those present); default: every record-level dataset. */
  datasets?: readonly string[]
}

export interface BorealisFile {
  /** The path as given to openBorealisFile. */
  readonly path: string
  readonly type: BorealisFileType
  readonly version: BorealisVersion
  /** File-level fields (/metadata). */
  readonly metadata: HdfFields
  /** Record group names, sorted. */
  readonly recordNames: readonly string[]
  /** The records in order, one group read at a time. */
  records(options?: RecordReadOptions): AsyncIterableIterator<BorealisRecord>
  /** One record by name. */
  readRecord(name: string, options?: RecordReadOptions): BorealisRecord
  /** Releases the HDF5 file and its heap buffer. Idempotent. */
  close(): void
}

/** Record-level datasets that identify the file type (the first record decides). */
const TYPE_MARKERS: ReadonlyArray<readonly [string, BorealisFileType]> = [
  ['main_acfs', 'rawacf'],
  ['antennas_iq_data', 'antennas_iq'],
  ['data', 'bfiq'],
]

/**
 * `borealis_git_hash` → version numbers: leading `v`s stripped, text before the first `-`, split on
 * `.` (pyDARNio's rule). A bare commit hash (untagged build) has no version.
 */
export function parseBorealisVersion(gitHash: string): {major: number; minor: number} | null {
  const parts = gitHash.trim().replace(/^v+/, '').split('-')[0]!.split('.')
  if (parts.length < 2 || !parts.slice(0, 2).every((p) => /^\d+$/.test(p))) return null
  return {major: Number(parts[0]), minor: Number(parts[1])}
}

/** FormatError unless `path` is a readable regular file. */
export async function checkReadable(path: string): Promise<void> {
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new FormatError(path, 'not a regular file')
    await access(path, constants.R_OK)
  } catch (error) {
    if (error instanceof FormatError) throw error
    const code = (error as NodeJS.ErrnoException).code
    throw new FormatError(path, code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(error)})`)
  }
}

function attributeNames(h5: H5Lib, file: H5File, path: string): string[] {
  return h5.Module.get_attribute_names(file.file_id, path)
}

function attributeText(h5: H5Lib, file: H5File, path: string, name: string): string {
  try {
    const value = new h5.Attribute(file.file_id, path, name).value
    if (typeof value === 'string') return value
    if (value instanceof Uint8Array) return new TextDecoder().decode(value).replace(/\0+$/, '')
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a numeric (or array) attribute, as String() writes it
    return String(value)
  } catch {
    return '?'
  }
}

/**
 * Reads one dataset whole into a typed value. Types we do not decode still have their bytes read
 * (so a damaged chunk is noticed), except variable-length data, which h5wasm reads itself.
 */
export function readDataset(h5: H5Lib, file: H5File, raw: RawReader, path: string): HdfValue {
  const meta = h5.Module.get_dataset_metadata(file.file_id, path)
  const shape = meta.shape ?? []
  if (meta.vlen) {
    // Not what h5py writes for Borealis, but valid HDF5: h5wasm decodes it and reclaims the memory.
    const value = new h5.Dataset(file.file_id, path).value
    if (meta.type === 3) return {kind: 'string', shape, data: (Array.isArray(value) ? value : [value]).map(String)}
    return {kind: 'other', shape, description: describeType(meta)}
  }
  const bytes = raw.read(file.file_id, path, meta)
  return readsRawBytes(meta) ? decodeRaw(meta, bytes) : {kind: 'other', shape, description: describeType(meta)}
}

/** Reads the datasets of one group: all of them, or only `wanted` (listing a group is costly). */
function readGroup(
  h5: H5Lib,
  file: H5File,
  raw: RawReader,
  path: string,
  group: string,
  include: (name: string) => boolean,
  wanted: readonly string[] | null = null,
): HdfFields {
  const values = new Map<string, HdfValue>()
  const isGroup = () => h5.Module.get_type(file.file_id, group) === h5.Module.H5G_GROUP
  if (wanted === null) {
    const names = h5Call(path, group, () => {
      if (!isGroup()) throw new Error('not a group')
      return h5.Module.get_names(file.file_id, group, false)
    })
    for (const name of [...names].sort()) {
      if (include(name)) values.set(name, h5Call(path, `${group}/${name}`, () => readDataset(h5, file, raw, `${group}/${name}`)))
    }
  } else {
    if (!h5Call(path, group, isGroup)) throw new FormatError(path, `${group}: not a group`)
    for (const name of [...new Set(wanted)].sort()) {
      if (!include(name)) continue
      const dataset = `${group}/${name}`
      let value: HdfValue
      try {
        value = readDataset(h5, file, raw, dataset)
      } catch (error) {
        // Absent datasets are simply not in the result; only then is the (costly) lookup made.
        if (h5Call(path, dataset, () => h5.Module.get_type(file.file_id, dataset)) < 0) continue
        throw h5Error(path, dataset, error)
      }
      values.set(name, value)
    }
  }
  return new HdfFields(path, group, values)
}

export async function openBorealisFile(path: string): Promise<BorealisFile> {
  await checkReadable(path)
  const h5 = await loadH5wasm()
  const file = h5Call(path, null, () => new h5.File(resolve(path), 'r'))
  const raw = new RawReader(h5)
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    raw.release()
    try {
      file.close()
    } catch {
      // closing a file whose read failed can report the same error again; nothing to release
    }
  }
  try {
    const top = h5Call(path, null, () => file.keys()).sort()
    const kind = h5Call(path, null, () => detectLayout(h5, file, top))
    if (kind.layout !== 'v1') {
      const where = kind.layout === 'array' ? 'array-structured' : 'site-structured'
      throw new FormatError(
        path,
        kind.layout === 'none'
          ? 'not a Borealis v1.0 file: no /metadata/borealis_git_hash dataset'
          : `pre-v1.0 Borealis file (${where}, ${kind.gitHash}): only Borealis v1.0 and later files are supported`,
      )
    }
    const metadata = readGroup(h5, file, raw, path, '/metadata', () => true)
    const gitHash = metadata.string('borealis_git_hash')
    const parsed = parseBorealisVersion(gitHash)
    if (!parsed) throw new FormatError(path, `borealis_git_hash "${gitHash}" has no version number (vMAJOR.MINOR…)`)
    if (parsed.major < 1) throw new FormatError(path, `pre-v1.0 Borealis version ${gitHash}: only Borealis v1.0 and later files are supported`)
    const version: BorealisVersion = {gitHash, ...parsed}
    const recordNames = top.filter((name) => name !== 'metadata')
    const metadataNames = new Set(metadata.names())
    const type = h5Call(path, null, () => detectType(h5, file, path, recordNames[0]))

    const readRecord = (name: string, options: RecordReadOptions = {}, index = recordNames.indexOf(name)): BorealisRecord => {
      if (closed) throw new FormatError(path, 'file already closed')
      const fields = readGroup(h5, file, raw, path, `/${name}`, (n) => !metadataNames.has(n), options.datasets ?? null)
      return {name, index, fields}
    }
    async function* records(options: RecordReadOptions = {}): AsyncIterableIterator<BorealisRecord> {
      for (const [index, name] of recordNames.entries()) yield readRecord(name, options, index)
    }
    return {path, type, version, metadata, recordNames, records, readRecord, close}
  } catch (error) {
    close()
    throw error
  }
}

function detectLayout(
  h5: H5Lib,
  file: H5File,
  top: readonly string[],
): {layout: 'v1' | 'array' | 'site' | 'none'; gitHash?: string} {
  if (attributeNames(h5, file, '/').includes('borealis_git_hash')) {
    return {layout: 'array', gitHash: attributeText(h5, file, '/', 'borealis_git_hash')}
  }
  const isGroup = (p: string) => h5.Module.get_type(file.file_id, p) === h5.Module.H5G_GROUP
  if (top.includes('metadata') && isGroup('/metadata') && h5.Module.get_type(file.file_id, '/metadata/borealis_git_hash') === h5.Module.H5G_DATASET) {
    return {layout: 'v1'}
  }
  const first = top[0]
  if (first !== undefined && isGroup(`/${first}`) && attributeNames(h5, file, `/${first}`).includes('borealis_git_hash')) {
    return {layout: 'site', gitHash: attributeText(h5, file, `/${first}`, 'borealis_git_hash')}
  }
  return {layout: 'none'}
}

function detectType(h5: H5Lib, file: H5File, path: string, firstRecord: string | undefined): BorealisFileType {
  if (firstRecord !== undefined && h5.Module.get_type(file.file_id, `/${firstRecord}`) === h5.Module.H5G_GROUP) {
    const names = new Set(h5.Module.get_names(file.file_id, `/${firstRecord}`, false))
    for (const [marker, type] of TYPE_MARKERS) if (names.has(marker)) return type
  }
  try {
    return parseBorealisName(path).type
  } catch {
    return 'unknown'
  }
}

/** A typed view of one antennas_iq record, for plotting. */
export interface AntennasIqRecord {
  name: string
  /** Seconds since the epoch (UTC), one per sequence. */
  sqnTimestamps: Float64Array
  numSequences: number
  /** [antennas, sequences, samples]; antenna axis i is `rx_antennas[i]` of the metadata. */
  shape: [number, number, number]
  /** complex64 samples, interleaved re, im, C order over `shape`. */
  data: Float32Array
}

export function antennasIqRecord(record: BorealisRecord): AntennasIqRecord {
  const f = record.fields
  const iq = f.complex('antennas_iq_data')
  if (iq.shape.length !== 3 || !(iq.data instanceof Float32Array)) f.fail('antennas_iq_data', 'expected complex64 [antennas, sequences, samples]')
  const times = f.floats('sqn_timestamps')
  return {
    name: record.name,
    sqnTimestamps: times.data instanceof Float64Array ? times.data : Float64Array.from(times.data),
    numSequences: Number(f.integer('num_sequences')),
    shape: iq.shape as [number, number, number],
    data: iq.data as Float32Array,
  }
}
