// Parses one DMAP record from its bytes, applying darn-dmap 0.8.2's record rules exactly
// (SuperDARNCanada/dmap src/parser.rs). The rules, named as the tests name them: H1–H5 the
// header (16 bytes, a size that fits, at least one scalar and one array, no more fields than
// bytes); S1–S3 a scalar (UTF-8 name ending in NUL inside the record, a known type code, enough
// bytes for the value); A1–A6 an array (the same for its name and type, no string arrays; ndims
// and every extent positive and within the size, only `slist` may be empty; the data fit the
// record and what is left of it); R1 the fields use exactly the declared size.
// Every length read from the record is checked against the bytes that are really there before
// anything is allocated, so a damaged size or dimension can never cause a large allocation.
import {
  DMAP_TYPE_SIZE,
  HOST_IS_LITTLE_ENDIAN,
  RECORD_HEADER_BYTES,
  TYPED_ARRAY_FOR,
  typeFromCode,
} from './layout.js'
import type {DmapArray, DmapRecord, DmapScalar, DmapType, DmapTypedArray} from './types.js'

/** Why a record is invalid; `at` is the byte offset of the problem within the record. */
export class DmapRecordError extends Error {
  constructor(
    readonly reason: string,
    readonly at: number,
  ) {
    super(reason)
    this.name = 'DmapRecordError'
  }
}

const utf8 = new TextDecoder('utf-8', {fatal: true})

class Cursor {
  pos = 0
  readonly view: DataView
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining(): number {
    return this.bytes.length - this.pos
  }

  need(n: number, what: string): void {
    if (this.remaining < n) {
      throw new DmapRecordError(`${what}: needs ${n} bytes but only ${this.remaining} remain in the record`, this.pos)
    }
  }

  int32(what: string): number {
    this.need(4, what)
    const value = this.view.getInt32(this.pos, true)
    this.pos += 4
    return value
  }

  /** A NUL-terminated UTF-8 string; the NUL must lie inside the record (S1, S3). */
  cString(what: string): string {
    const start = this.pos
    const end = this.bytes.indexOf(0, start)
    if (end < 0) throw new DmapRecordError(`${what}: no NUL terminator before the end of the record`, start)
    let text: string
    try {
      text = utf8.decode(this.bytes.subarray(start, end))
    } catch {
      throw new DmapRecordError(`${what}: not valid UTF-8`, start)
    }
    this.pos = end + 1
    return text
  }

  type(what: string): DmapType {
    this.need(1, what)
    const code = this.view.getInt8(this.pos)
    const type = typeFromCode(code)
    if (type === undefined) throw new DmapRecordError(`${what}: invalid DMAP type code ${code}`, this.pos)
    this.pos += 1
    return type
  }
}

function readScalarValue(c: Cursor, type: DmapType, name: string): DmapScalar['value'] {
  if (type === 'string') return c.cString(`value of string '${name}'`)
  const size = DMAP_TYPE_SIZE[type]
  c.need(size, `value of scalar '${name}' (${type})`)
  const at = c.pos
  c.pos += size
  const v = c.view
  switch (type) {
    case 'char':
      return v.getInt8(at)
    case 'short':
      return v.getInt16(at, true)
    case 'int':
      return v.getInt32(at, true)
    case 'float':
      return v.getFloat32(at, true)
    case 'double':
      return v.getFloat64(at, true)
    case 'long':
      return v.getBigInt64(at, true)
    case 'uchar':
      return v.getUint8(at)
    case 'ushort':
      return v.getUint16(at, true)
    case 'uint':
      return v.getUint32(at, true)
    case 'ulong':
      return v.getBigUint64(at, true)
  }
}

/** Copies `count` LE elements starting at the cursor into a new typed array of `type`. */
function readArrayData(c: Cursor, type: DmapArray['type'], count: number): DmapTypedArray {
  const size = DMAP_TYPE_SIZE[type]
  const data = new TYPED_ARRAY_FOR[type](count)
  const bytes = c.bytes.subarray(c.pos, c.pos + count * size)
  if (HOST_IS_LITTLE_ENDIAN || size === 1) {
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(bytes)
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const setters: Record<DmapArray['type'], (i: number) => void> = {
      char: (i) => ((data as Int8Array)[i] = view.getInt8(i)),
      uchar: (i) => ((data as Uint8Array)[i] = view.getUint8(i)),
      short: (i) => ((data as Int16Array)[i] = view.getInt16(i * 2, true)),
      ushort: (i) => ((data as Uint16Array)[i] = view.getUint16(i * 2, true)),
      int: (i) => ((data as Int32Array)[i] = view.getInt32(i * 4, true)),
      uint: (i) => ((data as Uint32Array)[i] = view.getUint32(i * 4, true)),
      float: (i) => ((data as Float32Array)[i] = view.getFloat32(i * 4, true)),
      double: (i) => ((data as Float64Array)[i] = view.getFloat64(i * 8, true)),
      long: (i) => ((data as BigInt64Array)[i] = view.getBigInt64(i * 8, true)),
      ulong: (i) => ((data as BigUint64Array)[i] = view.getBigUint64(i * 8, true)),
    }
    const set = setters[type]
    for (let i = 0; i < count; i++) set(i)
  }
  c.pos += count * size
  return data
}

/** Reads one array entry (A1–A6). `size` is the record's declared size. */
function readArray(c: Cursor, size: number): [string, DmapArray] {
  const start = c.pos
  const name = c.cString('array name')
  const typeAt = c.pos
  const type = c.type(`type of array '${name}'`)
  const ndimsAt = c.pos
  const ndims = c.int32(`number of dimensions of array '${name}'`)
  if (ndims > size) throw new DmapRecordError(`array '${name}': ${ndims} dimensions is more than the record size ${size}`, ndimsAt)
  if (ndims <= 0) throw new DmapRecordError(`array '${name}': number of dimensions ${ndims} is zero or negative`, ndimsAt)
  // Stored fastest-varying first; the row-major shape is the reverse.
  const stored: number[] = []
  let count = 1
  for (let i = 0; i < ndims; i++) {
    const dimAt = c.pos
    const dim = c.int32(`dimension ${i} of array '${name}'`)
    // darn-dmap allows an extent of 0 only for `slist` (a record with no good ranges); a negative
    // slist extent still fails (its conversion to usize fails).
    if (dim <= 0 && (name !== 'slist' || dim < 0)) {
      throw new DmapRecordError(`array '${name}': dimension ${dim} is zero or negative`, dimAt)
    }
    if (dim > size) throw new DmapRecordError(`array '${name}': dimension ${dim} exceeds the record size ${size}`, dimAt)
    stored.push(dim)
    // Capped so that a crafted dimension list cannot reach Infinity (and 0 × Infinity = NaN).
    count = Math.min(count * dim, Number.MAX_SAFE_INTEGER)
  }
  if (type === 'string') throw new DmapRecordError(`array '${name}': type string is not allowed for arrays`, typeAt)
  const elementSize = DMAP_TYPE_SIZE[type]
  const dataBytes = count * elementSize
  if (dataBytes > size) {
    throw new DmapRecordError(`array '${name}': ${dataBytes} data bytes exceed the record size ${size}`, start)
  }
  c.need(dataBytes, `data of array '${name}'`)
  const data = readArrayData(c, type, count)
  if (c.pos - start > size) {
    throw new DmapRecordError(`array '${name}' occupies more bytes than the record (${c.pos - start} > ${size})`, start)
  }
  return [name, {type, shape: stored.reverse(), data}]
}

/**
 * Parses the bytes of exactly one record (the slice the file-level split gave it). Throws
 * DmapRecordError naming the first rule the record breaks.
 */
export function parseRecord(bytes: Uint8Array): DmapRecord {
  const c = new Cursor(bytes)
  if (bytes.length < RECORD_HEADER_BYTES) {
    throw new DmapRecordError(`record header needs ${RECORD_HEADER_BYTES} bytes but the record has ${bytes.length}`, 0)
  }
  c.int32('code') // never checked, as in darn-dmap
  const size = c.int32('size')
  if (size > bytes.length) throw new DmapRecordError(`record size ${size} is bigger than the ${bytes.length} bytes available`, 4)
  if (size <= 0) throw new DmapRecordError(`record size ${size} is not positive`, 4)
  const numScalars = c.int32('number of scalars')
  const numArrays = c.int32('number of arrays')
  if (numScalars <= 0) throw new DmapRecordError(`number of scalars ${numScalars} is not positive`, 8)
  if (numArrays <= 0) throw new DmapRecordError(`number of arrays ${numArrays} is not positive`, 12)
  if (numScalars + numArrays > size) {
    throw new DmapRecordError(`${numScalars} scalars plus ${numArrays} arrays is more than the record size ${size}`, 8)
  }

  const record: DmapRecord = {scalars: new Map(), arrays: new Map()}
  for (let i = 0; i < numScalars; i++) {
    const name = c.cString(`name of scalar ${i}`)
    const type = c.type(`type of scalar '${name}'`)
    const value = readScalarValue(c, type, name)
    record.scalars.set(name, {type, value})
  }
  for (let i = 0; i < numArrays; i++) {
    const [name, array] = readArray(c, size)
    // One map per record in darn-dmap: a later field of the same name replaces an earlier one.
    record.scalars.delete(name)
    record.arrays.set(name, array)
  }
  if (c.pos !== size) {
    throw new DmapRecordError(`the fields end at byte ${c.pos} but the record size is ${size}`, c.pos)
  }
  return record
}
