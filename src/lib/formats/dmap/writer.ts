// DMAP writer: scalars then arrays, each in the record's insertion order
// (for rawacf the converter builds records in darn-dmap's canonical order; see inRawacfOrder),
// header code 65537. A record that strict reading would reject (no scalars or arrays, a zero
// extent outside `slist`, a value that does not fit its type, a NUL inside a string) is refused
// rather than written.
//
// Files are written whole: temporary name in the target directory → fsync → rename over the
// target → fsync the directory. An existing file is replaced, never appended to (darn-dmap's
// append mode made multi-stream .bz2 files: docs/design.md#dmap-append-mode). Any error leaves
// no output behind.
import {open, rename, unlink} from 'node:fs/promises'
import {dirname} from 'node:path'

import {FormatError, InterruptedError} from '../../errors.js'
import {fsyncPath, tempPathFor} from '../../fs/atomic.js'
import {type Bzip2Options, compressToFd} from '../bzip2.js'
import {DMAP_RECORD_CODE, DMAP_TYPE_SIZE, HOST_IS_LITTLE_ENDIAN, INT_RANGE, RECORD_HEADER_BYTES, TYPED_ARRAY_FOR} from './layout.js'
import {DMAP_TYPE, type DmapArray, type DmapRecord, type DmapScalar} from './types.js'

const INT32_MAX = 2147483647
const LONG_RANGE = {long: [-(2n ** 63n), 2n ** 63n - 1n], ulong: [0n, 2n ** 64n - 1n]} as const

/** Raised for a record that cannot be written; `file` is '<record>' until writeDmapFile names it. */
function invalid(reason: string): FormatError {
  return new FormatError('<record>', reason)
}

function textBytes(text: string, what: string): number {
  if (text.includes('\0')) throw invalid(`${what} contains a NUL character, which DMAP cannot represent`)
  return Buffer.byteLength(text, 'utf8')
}

function checkScalar(name: string, scalar: DmapScalar): number {
  const {type, value} = scalar
  if (!(type in DMAP_TYPE)) throw invalid(`scalar '${name}': unknown type '${String(type)}'`)
  if (type === 'string') {
    if (typeof value !== 'string') throw invalid(`scalar '${name}' (string): value is a ${typeof value}`)
    return textBytes(value, `string '${name}'`) + 1
  }
  if (type === 'long' || type === 'ulong') {
    const [min, max] = LONG_RANGE[type]
    if (typeof value !== 'bigint' || value < min || value > max) throw invalid(`scalar '${name}' (${type}): ${String(value)} is not a ${type}`)
  } else if (type === 'float' || type === 'double') {
    if (typeof value !== 'number') throw invalid(`scalar '${name}' (${type}): value is a ${typeof value}`)
  } else {
    const [min, max] = INT_RANGE[type]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(`scalar '${name}' (${type}): ${String(value)} does not fit the type`)
    }
  }
  return DMAP_TYPE_SIZE[type]
}

function checkArray(name: string, array: DmapArray): number {
  const {type, shape, data} = array
  if (!(type in TYPED_ARRAY_FOR)) throw invalid(`array '${name}': type '${String(type)}' is not allowed for arrays`)
  if (!(data instanceof TYPED_ARRAY_FOR[type])) throw invalid(`array '${name}' (${type}): data is not a ${TYPED_ARRAY_FOR[type].name}`)
  if (!Array.isArray(shape) || shape.length === 0) throw invalid(`array '${name}': shape must have at least one dimension`)
  let count = 1
  for (const dim of shape) {
    const min = name === 'slist' ? 0 : 1
    if (!Number.isInteger(dim) || dim < min || dim > INT32_MAX) throw invalid(`array '${name}': invalid dimension ${dim} in shape [${shape.join(', ')}]`)
    count *= dim
  }
  if (count !== data.length) throw invalid(`array '${name}': shape [${shape.join(', ')}] holds ${count} elements but data has ${data.length}`)
  return 4 + 4 * shape.length + data.byteLength
}

/** Size in bytes of the encoded record, after checking that it can be encoded. */
export function encodedRecordSize(record: DmapRecord): number {
  if (record.scalars.size === 0) throw invalid('a record needs at least one scalar')
  if (record.arrays.size === 0) throw invalid('a record needs at least one array')
  let size = RECORD_HEADER_BYTES
  for (const [name, scalar] of record.scalars) size += textBytes(name, 'field name') + 2 + checkScalar(name, scalar)
  for (const [name, array] of record.arrays) {
    if (record.scalars.has(name)) throw invalid(`'${name}' is both a scalar and an array`)
    size += textBytes(name, 'field name') + 2 + checkArray(name, array)
  }
  if (size > INT32_MAX) throw invalid(`record of ${size} bytes exceeds the DMAP limit of ${INT32_MAX}`)
  return size
}

function writeScalarValue(out: Buffer, at: number, scalar: DmapScalar): number {
  const {type, value} = scalar
  switch (type) {
    case 'string':
      at += out.write(value as string, at, 'utf8')
      out[at] = 0
      return at + 1
    case 'char':
      return out.writeInt8(value as number, at)
    case 'short':
      return out.writeInt16LE(value as number, at)
    case 'int':
      return out.writeInt32LE(value as number, at)
    case 'float':
      return out.writeFloatLE(value as number, at)
    case 'double':
      return out.writeDoubleLE(value as number, at)
    case 'long':
      return out.writeBigInt64LE(value as bigint, at)
    case 'uchar':
      return out.writeUInt8(value as number, at)
    case 'ushort':
      return out.writeUInt16LE(value as number, at)
    case 'uint':
      return out.writeUInt32LE(value as number, at)
    case 'ulong':
      return out.writeBigUInt64LE(value as bigint, at)
  }
}

function writeArrayData(out: Buffer, at: number, array: DmapArray): number {
  const {type, data} = array
  const size = DMAP_TYPE_SIZE[type]
  if (HOST_IS_LITTLE_ENDIAN || size === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at)
    return at + data.byteLength
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!
    if (type === 'float') at = out.writeFloatLE(v as number, at)
    else if (type === 'double') at = out.writeDoubleLE(v as number, at)
    else if (type === 'long') at = out.writeBigInt64LE(v as bigint, at)
    else if (type === 'ulong') at = out.writeBigUInt64LE(v as bigint, at)
    else if (type === 'short') at = out.writeInt16LE(v as number, at)
    else if (type === 'ushort') at = out.writeUInt16LE(v as number, at)
    else if (type === 'int') at = out.writeInt32LE(v as number, at)
    else at = out.writeUInt32LE(v as number, at)
  }
  return at
}

function writeName(out: Buffer, at: number, name: string, code: number): number {
  at += out.write(name, at, 'utf8')
  out[at++] = 0
  out[at++] = code
  return at
}

/** Encodes one record. Throws FormatError for a record that cannot be written. */
export function encodeRecord(record: DmapRecord): Buffer {
  const size = encodedRecordSize(record)
  const out = Buffer.allocUnsafe(size) // every byte is written below
  let at = out.writeInt32LE(DMAP_RECORD_CODE, 0)
  at = out.writeInt32LE(size, at)
  at = out.writeInt32LE(record.scalars.size, at)
  at = out.writeInt32LE(record.arrays.size, at)
  for (const [name, scalar] of record.scalars) {
    at = writeName(out, at, name, DMAP_TYPE[scalar.type])
    at = writeScalarValue(out, at, scalar)
  }
  for (const [name, array] of record.arrays) {
    at = writeName(out, at, name, DMAP_TYPE[array.type])
    at = out.writeInt32LE(array.shape.length, at)
    for (let i = array.shape.length - 1; i >= 0; i--) at = out.writeInt32LE(array.shape[i]!, at)
    at = writeArrayData(out, at, array)
  }
  if (at !== size) throw new Error(`encodeRecord: wrote ${at} bytes, planned ${size}`)
  return out
}

/** Batches encoded records into chunks of about this size for the file or the compressor. */
const BATCH_BYTES = 1 << 20

export interface WriteDmapOptions {
  /** bzip2-compress the output (one stream, level 9). Default: when the path ends in `.bz2`. */
  compress?: boolean
  signal?: AbortSignal
  bzip2?: Omit<Bzip2Options, 'signal'>
  /** File mode of the new file (default 0o644). */
  mode?: number
}

export interface WriteDmapResult {
  path: string
  records: number
  /** Uncompressed DMAP bytes written. */
  bytes: number
  compressed: boolean
}

/**
 * Writes records to `path` as one DMAP file, replacing any existing file atomically. Records may
 * come from an async iterable (e.g. a conversion), so the file is never held in memory whole.
 * An invalid record, an error of the iterable or of the compressor leaves no file behind.
 */
export async function writeDmapFile(
  path: string,
  records: Iterable<DmapRecord> | AsyncIterable<DmapRecord>,
  options: WriteDmapOptions = {},
): Promise<WriteDmapResult> {
  const compressed = options.compress ?? path.endsWith('.bz2')
  const result: WriteDmapResult = {path, records: 0, bytes: 0, compressed}
  async function* encoded(): AsyncGenerator<Buffer> {
    let batch: Buffer[] = []
    let batchBytes = 0
    for await (const record of records) {
      let bytes: Buffer
      try {
        bytes = encodeRecord(record)
      } catch (error) {
        if (error instanceof FormatError) throw new FormatError(path, `record ${result.records}: ${error.reason}`)
        throw error
      }
      result.records++
      result.bytes += bytes.length
      batch.push(bytes)
      batchBytes += bytes.length
      if (batchBytes >= BATCH_BYTES) {
        yield batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes)
        batch = []
        batchBytes = 0
      }
    }
    if (batchBytes > 0) yield batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes)
  }

  const temp = tempPathFor(path)
  const handle = await open(temp, 'wx', options.mode ?? 0o644)
  try {
    if (compressed) {
      await compressToFd(encoded(), handle.fd, {...options.bzip2, signal: options.signal})
    } else {
      for await (const chunk of encoded()) {
        if (options.signal?.aborted) throw new InterruptedError(`${path}: write interrupted`)
        for (let done = 0; done < chunk.length; ) done += (await handle.write(chunk, done)).bytesWritten
      }
    }
    await handle.sync()
    await handle.close()
  } catch (error) {
    await handle.close().catch(() => undefined)
    await unlink(temp).catch(() => undefined)
    throw error
  }
  try {
    await rename(temp, path)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  }
  await fsyncPath(dirname(path))
  return result
}
