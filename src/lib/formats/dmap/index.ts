// The DMAP codec: streaming reader (strict/lax), writer, rawacf validation, dumps, integrity check.
export * from './types.js'
export {DmapRecordError, parseRecord} from './parse.js'
export {readDmap, readDmapFile, readDmapStream} from './reader.js'
export {encodeRecord, writeDmapFile} from './writer.js'
export {inRawacfOrder, validateRawacf} from './rawacf.js'
export {checkDmapIntegrity} from './check.js'
export {float32Text, float64Text, parseRecordRange, recordJsonText} from './dump.js'
