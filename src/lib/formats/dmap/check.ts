// The integrity check of a DMAP rawacf file: the original campus/test_dmap_integrity.py
// (same exit contract). Strict reading of every record (reader.ts) with strict rawacf validation;
// the result is the CPID of the first record, which the campus distribution compares with its
// list of distributed CPIDs.
import {FormatError} from '../../errors.js'
import type {Bzip2Options} from '../bzip2.js'
import {validateRawacf} from './rawacf.js'
import {readDmapFile} from './reader.js'

export interface DmapIntegrity {
  file: string
  /** `cp` of the first record, as the original printed it (`str(records[0]['cp'])`). */
  cp: number
  records: number
  compressed: boolean
}

/**
 * Reads the whole file strictly. Any problem, including a file without records, is a
 * FormatError naming the file (the original exits 1 with empty stdout in all these cases).
 */
export async function checkDmapIntegrity(
  file: string,
  options: {signal?: AbortSignal; bzip2?: Omit<Bzip2Options, 'signal'>} = {},
): Promise<DmapIntegrity> {
  const reader = readDmapFile(file, {mode: 'strict', validate: validateRawacf, signal: options.signal, bzip2: options.bzip2})
  let cp: number | undefined
  for await (const {index, record} of reader) {
    if (index === 0) cp = record.scalars.get('cp')!.value as number // validateRawacf: present, a short
  }
  if (cp === undefined) throw new FormatError(file, 'no records')
  return {file, cp, records: reader.records, compressed: reader.compressed}
}
