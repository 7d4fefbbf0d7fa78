// HDF5 dataset values as typed arrays, decoded from the raw little-endian bytes h5wasm hands out,
// for the h5py conventions Borealis writes: integers and floats of any
// width, fixed-length byte strings (NUL-padded), booleans as the h5py enum {FALSE: 0, TRUE: 1},
// complex numbers as the compound {r, i} of two floats. Scalars are arrays of shape [].
import {FormatError} from '../../errors.js'
import type {H5Metadata} from './h5wasm.js'

export type IntArray = Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
export type FloatArray = Float32Array | Float64Array

/** One dataset's value. `shape` is row-major ([] for a scalar); `data` holds the elements in C order. */
export type HdfValue =
  | {kind: 'int'; shape: number[]; data: IntArray}
  | {kind: 'float'; shape: number[]; data: FloatArray}
  /** Complex64 (Float32Array) or complex128 (Float64Array): interleaved re, im; data.length = 2 × elements. */
  | {kind: 'complex'; shape: number[]; data: FloatArray}
  /** h5py booleans: 0 or 1 per element. */
  | {kind: 'bool'; shape: number[]; data: Uint8Array}
  | {kind: 'string'; shape: number[]; data: string[]}
  /** A type this reader does not decode (references, opaque, nested compounds, …): described, not read. */
  | {kind: 'other'; shape: number[]; description: string}

export type HdfKind = HdfValue['kind']

// HDF5 type classes (H5T_class_t), as h5wasm reports them in Metadata.type.
const H5T = {INTEGER: 0, FLOAT: 1, STRING: 3, COMPOUND: 6, ENUM: 8} as const
const STR_SPACEPAD = 2

const utf8 = new TextDecoder('utf-8')

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

function intArray(bytes: Uint8Array, size: number, signed: boolean): IntArray | null {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  switch (size) {
    case 1:
      return signed ? new Int8Array(buffer) : new Uint8Array(buffer)
    case 2:
      return signed ? new Int16Array(buffer) : new Uint16Array(buffer)
    case 4:
      return signed ? new Int32Array(buffer) : new Uint32Array(buffer)
    case 8:
      return signed ? new BigInt64Array(buffer) : new BigUint64Array(buffer)
    default:
      return null
  }
}

function floatArray(bytes: Uint8Array, size: number): FloatArray | null {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  if (size === 4) return new Float32Array(buffer)
  if (size === 8) return new Float64Array(buffer)
  return null
}

/** Whether a compound type is the h5py complex convention {r: float, i: float}, packed. */
export function isComplexCompound(meta: H5Metadata): boolean {
  const members = meta.compound_type?.members
  if (!members || members.length !== 2) return false
  const [r, i] = members as [H5Metadata & {name: string; offset: number}, H5Metadata & {name: string; offset: number}]
  const half = meta.size / 2
  return (
    r.name === 'r' && i.name === 'i' && r.type === H5T.FLOAT && i.type === H5T.FLOAT &&
    r.size === half && i.size === half && r.offset === 0 && i.offset === half && (half === 4 || half === 8)
  )
}

export function isBoolEnum(meta: H5Metadata): boolean {
  const members = meta.enum_type?.members
  return meta.size === 1 && members !== undefined && Object.keys(members).length === 2 && members.FALSE === 0 && members.TRUE === 1
}

/** Whether `decode` needs the raw bytes (false: the value comes from h5wasm's own reader or is not read). */
export function readsRawBytes(meta: H5Metadata): boolean {
  if (meta.vlen) return false
  return [H5T.INTEGER, H5T.FLOAT, H5T.STRING, H5T.ENUM].includes(meta.type as 0) || (meta.type === H5T.COMPOUND && isComplexCompound(meta))
}

export function describeType(meta: H5Metadata): string {
  const names: Record<number, string> = {0: 'integer', 1: 'float', 2: 'time', 3: 'string', 4: 'bitfield', 5: 'opaque', 6: 'compound', 7: 'reference', 8: 'enum', 9: 'vlen', 10: 'array'}
  return `${meta.vlen ? 'variable-length ' : ''}${names[meta.type] ?? `class ${meta.type}`} of ${meta.size} bytes`
}

/** Decodes the raw bytes of a dataset read whole. Returns an `other` value for types we do not decode. */
export function decodeRaw(meta: H5Metadata, bytes: Uint8Array): HdfValue {
  const shape = meta.shape ?? []
  const n = meta.shape === null ? 0 : elementCount(shape)
  if (bytes.byteLength !== n * meta.size) throw new Error(`read ${bytes.byteLength} bytes, expected ${n} × ${meta.size}`)
  switch (meta.type) {
    case H5T.INTEGER: {
      const data = intArray(bytes, meta.size, meta.signed)
      if (data) return {kind: 'int', shape, data}
      break
    }
    case H5T.FLOAT: {
      const data = floatArray(bytes, meta.size)
      if (data) return {kind: 'float', shape, data}
      break
    }
    case H5T.ENUM: {
      if (isBoolEnum(meta)) return {kind: 'bool', shape, data: Uint8Array.from(bytes, (b) => (b === 0 ? 0 : 1))}
      const base = meta.enum_type!
      const data = intArray(bytes, meta.size, base.type === H5T.INTEGER ? meta.signed : false)
      if (data) return {kind: 'int', shape, data}
      break
    }
    case H5T.STRING: {
      if (meta.vlen) break
      const strings: string[] = []
      for (let k = 0; k < n; k++) {
        let end = (k + 1) * meta.size
        const start = k * meta.size
        const nul = bytes.indexOf(0, start)
        if (nul !== -1 && nul < end) end = nul
        let text = utf8.decode(bytes.subarray(start, end))
        if (meta.strpad === STR_SPACEPAD) text = text.replace(/ +$/, '')
        strings.push(text)
      }
      return {kind: 'string', shape, data: strings}
    }
    case H5T.COMPOUND: {
      if (!isComplexCompound(meta)) break
      const data = floatArray(bytes, meta.size / 2)
      if (data) return {kind: 'complex', shape, data}
      break
    }
  }
  return {kind: 'other', shape, description: describeType(meta)}
}

/**
 * Typed access to the datasets of one group (a record, or /metadata), with errors that name the
 * file, the group and the dataset. Numeric getters accept a scalar or a one-element array.
 */
export class HdfFields {
  constructor(
    readonly file: string,
    /** Group path, for messages: `/metadata`, `/20231004-1400-00.031800`. */
    readonly group: string,
    readonly values: ReadonlyMap<string, HdfValue>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name)
  }

  names(): string[] {
    return [...this.values.keys()]
  }

  fail(name: string, reason: string): never {
    throw new FormatError(this.file, `${this.group}: ${name}: ${reason}`)
  }

  get(name: string): HdfValue {
    const value = this.values.get(name)
    if (!value) throw new FormatError(this.file, `${this.group}: missing dataset "${name}"`)
    return value
  }

  /** A value of one of the given kinds. */
  of<K extends HdfKind>(name: string, ...kinds: K[]): Extract<HdfValue, {kind: K}> {
    const value = this.get(name)
    if (!(kinds as HdfKind[]).includes(value.kind)) {
      this.fail(name, `expected ${kinds.join(' or ')}, found ${value.kind === 'other' ? value.description : value.kind}`)
    }
    return value as Extract<HdfValue, {kind: K}>
  }

  private single<K extends HdfKind>(name: string, ...kinds: K[]): Extract<HdfValue, {kind: K}> {
    const value = this.of(name, ...kinds)
    if (elementCount(value.shape) !== 1) this.fail(name, `expected a single value, found shape [${value.shape.join(', ')}]`)
    return value
  }

  /** An integer scalar, exactly (bigint for 64-bit datasets). Booleans give 0/1. */
  integer(name: string): number | bigint {
    const value = this.single(name, 'int', 'bool')
    return value.data[0]!
  }

  /** A float (or integer) scalar as a JS number. */
  number(name: string): number {
    const value = this.single(name, 'float', 'int', 'bool')
    return Number(value.data[0]!)
  }

  boolean(name: string): boolean {
    const value = this.single(name, 'bool', 'int')
    return value.data[0] !== 0 && value.data[0] !== 0n
  }

  string(name: string): string {
    return this.single(name, 'string').data[0]!
  }

  strings(name: string): string[] {
    return this.of(name, 'string').data
  }

  ints(name: string): Extract<HdfValue, {kind: 'int'}> {
    return this.of(name, 'int')
  }

  floats(name: string): Extract<HdfValue, {kind: 'float'}> {
    return this.of(name, 'float')
  }

  complex(name: string): Extract<HdfValue, {kind: 'complex'}> {
    return this.of(name, 'complex')
  }
}
