// Byte-level facts of the DMAP format shared by the reader and the writer:
// type codes and element sizes, the typed array that holds each type, and the record header.
import {DMAP_TYPE, type DmapArray, type DmapType, type DmapTypedArray} from './types.js'

/** code (65537 = 0x00010001), size, num_scalars, num_arrays: four int32 LE. */
export const RECORD_HEADER_BYTES = 16
/** The `code` word every writer emits. No reader checks it. */
export const DMAP_RECORD_CODE = 65537

/** Element size in bytes; strings are variable (NUL-terminated) and have no fixed size. */
export const DMAP_TYPE_SIZE: Readonly<Record<Exclude<DmapType, 'string'>, number>> = {
  char: 1,
  short: 2,
  int: 4,
  float: 4,
  double: 8,
  long: 8,
  uchar: 1,
  ushort: 2,
  uint: 4,
  ulong: 8,
}

/** Type code (as darn-dmap reads it: a signed int8) → type name; anything else is invalid. */
const TYPE_BY_CODE = new Map<number, DmapType>(Object.entries(DMAP_TYPE).map(([name, code]) => [code, name as DmapType]))

export function typeFromCode(code: number): DmapType | undefined {
  return TYPE_BY_CODE.get(code)
}

type TypedArrayConstructor<T extends DmapTypedArray> = {new (length: number): T; readonly BYTES_PER_ELEMENT: number}

/** The typed array class that stores each array type (types.ts: 64-bit integers are bigint arrays). */
export const TYPED_ARRAY_FOR: {readonly [K in DmapArray['type']]: TypedArrayConstructor<DmapTypedArray>} = {
  char: Int8Array,
  short: Int16Array,
  int: Int32Array,
  float: Float32Array,
  double: Float64Array,
  long: BigInt64Array,
  uchar: Uint8Array,
  ushort: Uint16Array,
  uint: Uint32Array,
  ulong: BigUint64Array,
}

/** Inclusive value ranges of the integer scalar types that are JS numbers. */
export const INT_RANGE: Readonly<Record<'char' | 'short' | 'int' | 'uchar' | 'ushort' | 'uint', readonly [number, number]>> = {
  char: [-128, 127],
  short: [-32768, 32767],
  int: [-2147483648, 2147483647],
  uchar: [0, 255],
  ushort: [0, 65535],
  uint: [0, 4294967295],
}

/** Typed arrays can be copied as raw bytes only on a little-endian host (all real ones). */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
