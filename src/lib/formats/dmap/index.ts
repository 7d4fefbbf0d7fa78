// The DMAP codec: streaming reader (strict/lax), writer, rawacf validation, dumps, integrity check.
export * from './types.js'
export {DMAP_RECORD_CODE, DMAP_TYPE_SIZE, RECORD_HEADER_BYTES, TYPED_ARRAY_FOR} from './layout.js'
export {DmapRecordError, parseRecord} from './parse.js'
export {
  type DmapDamage,
  type DmapEntry,
  type DmapReadMode,
  type DmapReadOptions,
  type DmapReadResult,
  DmapReader,
  readDmap,
  readDmapFile,
  readDmapStream,
} from './reader.js'
export {encodedRecordSize, encodeRecord, type WriteDmapOptions, type WriteDmapResult, writeDmapFile} from './writer.js'
export {inRawacfOrder, RAWACF_ARRAYS, RAWACF_OPTIONAL_ARRAYS, RAWACF_OPTIONAL_SCALARS, RAWACF_SCALARS, validateRawacf} from './rawacf.js'
export {checkDmapIntegrity, type DmapIntegrity} from './check.js'
export {
  dmapFormatFromName,
  dumpDmapJson,
  dumpDmapListing,
  float32Text,
  float64Text,
  parseRecordRange,
  recordJsonText,
  type DumpOptions,
  type DumpSummary,
  type RecordRange,
} from './dump.js'
