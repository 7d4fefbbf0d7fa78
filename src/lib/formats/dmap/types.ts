// The in-memory DMAP record. Field order is significant: writers emit the scalars and then the
// arrays in insertion order, which for rawacf is darn-dmap's canonical order (see inRawacfOrder).
// Shared contract between the DMAP codec (reader/writer) and the Borealis → DMAP conversion.

/** The DMAP type codes (DATAMAP 255 is rejected by readers and never written). */
export const DMAP_TYPE = {
  char: 1,
  short: 2,
  int: 3,
  float: 4,
  double: 8,
  string: 9,
  long: 10,
  uchar: 16,
  ushort: 17,
  uint: 18,
  ulong: 19,
} as const

export type DmapType = keyof typeof DMAP_TYPE

/** Element storage per type: 64-bit integers are bigint, strings are JS strings. */
export type DmapTypedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array

export interface DmapScalar {
  type: DmapType
  /** number for 8–32-bit ints and floats (floats already rounded to the type), bigint for long/ulong, string for string. */
  value: number | bigint | string
}

export interface DmapArray {
  type: Exclude<DmapType, 'string'>
  /** Row-major shape (as Python/numpy would give it); the file stores it reversed. */
  shape: number[]
  /** Row-major (C-order) elements, of the typed array matching `type`. */
  data: DmapTypedArray
}

export interface DmapRecord {
  /** Scalars in write order. */
  scalars: Map<string, DmapScalar>
  /** Arrays in write order. */
  arrays: Map<string, DmapArray>
}
