// Streaming DMAP reader: record by record from a file or a byte stream, so memory stays flat
// however big the file. It applies darn-dmap 0.8.2's rules: the file-level
// split (`split_into_slices`) as the bytes arrive, then the record rules (parse.ts) per record.
//
// Modes (the behaviour test/fixtures/dmap/corrupt/variants.json requires of each damaged file):
//   strict  any damage is a FormatError naming the file, the record and its byte offset.
//   lax     iteration ends cleanly at the first damaged record; `reader.damage` then holds its
//           offset and the reason. The records before it are returned.
// In both modes a damaged bzip2 layer is an error (no record of a damaged .bz2 counts as good),
// and it is preferred over any DMAP damage that its garbage output caused.
//
// Streaming means records are yielded before the end of the file has been checked: a strict
// caller that needs all-or-nothing (an integrity check, a conversion) must treat a thrown error as
// failure of the whole file, or use readDmap(), which collects first.
import {type FileHandle, open} from 'node:fs/promises'

import {FormatError, InterruptedError} from '../../errors.js'
import {type Bzip2Options, decompressFile, decompressStream, hasBzip2Magic} from '../bzip2.js'
import {ByteQueue} from './byte-queue.js'
import {DmapRecordError, parseRecord} from './parse.js'
import type {DmapRecord} from './types.js'

export type DmapReadMode = 'strict' | 'lax'

export interface DmapReadOptions {
  /** Default 'strict'. */
  mode?: DmapReadMode
  signal?: AbortSignal
  /** How to run the bzip2 decompressor for .bz2 input. */
  bzip2?: Omit<Bzip2Options, 'signal'>
  /**
   * Checks a parsed record against a record format (e.g. validateRawacf); returns the reason it
   * is invalid, or undefined. A failure counts as damage of that record, as in darn-dmap, where
   * the format check is part of parsing a record.
   */
  validate?: (record: DmapRecord, index: number) => string | undefined
  /**
   * Largest record accepted, in bytes (default 1 GiB). darn-dmap has no limit below 2 GiB; this
   * bounds what a damaged size field in a compressed stream (whose length is unknown) can make
   * the reader buffer. Real records are well under 10 MB.
   */
  maxRecordBytes?: number
}

export interface DmapEntry {
  /** 0-based record number. */
  index: number
  /** Byte offset of the record in the (decompressed) DMAP byte stream. */
  offset: number
  /** Record size in bytes, header included. */
  size: number
  record: DmapRecord
}

export interface DmapDamage {
  /** Where the first damaged record starts (the lax "bad offset"). */
  offset: number
  /** Number of the damaged record (= number of intact records before it). */
  index: number
  reason: string
  error: FormatError
}

const FILE_CHUNK_BYTES = 1 << 20
const DEFAULT_MAX_RECORD_BYTES = 1 << 30
/** size is at bytes 4–7; darn-dmap's split reads it only while pos + 8 < length. */
const SPLIT_MIN_BYTES = 9

interface Source {
  chunks: AsyncIterator<Uint8Array>
  /** Total DMAP bytes when known in advance (an uncompressed file). */
  total?: number
  compressed: boolean
  /** Length of the raw (possibly compressed) input, once known. */
  rawLength?: number
  close(): Promise<void>
}

async function* fileChunks(handle: FileHandle, length: number): AsyncGenerator<Uint8Array> {
  let position = 0
  while (position < length) {
    const want = Math.min(FILE_CHUNK_BYTES, length - position)
    const buffer = Buffer.allocUnsafe(want)
    const {bytesRead} = await handle.read(buffer, 0, want, position)
    if (bytesRead === 0) return // the file shrank; the split reports the missing bytes
    position += bytesRead
    yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead)
  }
}

async function openFileSource(path: string, options: DmapReadOptions): Promise<Source> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    throw new FormatError(path, `cannot open (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new FormatError(path, 'not a regular file')
    const magic = Buffer.alloc(3)
    const {bytesRead} = await handle.read(magic, 0, 3, 0)
    if (bytesRead === 3 && hasBzip2Magic(magic)) {
      await handle.close()
      const chunks = decompressFile(path, {...options.bzip2, signal: options.signal})
      return {chunks, compressed: true, rawLength: info.size, close: async () => void (await chunks.return(undefined))}
    }
    const chunks = fileChunks(handle, info.size)
    const h = handle
    return {
      chunks,
      total: info.size,
      compressed: false,
      rawLength: info.size,
      close: async () => {
        await chunks.return(undefined)
        await h.close()
      },
    }
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw error
  }
}

/** Peeks at the first 3 bytes of a stream to detect bzip2, then hands on the whole stream. */
async function openStreamSource(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  name: string,
  options: DmapReadOptions,
): Promise<Source> {
  const it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (async function* () {
    yield* source
  })()
  const head: Uint8Array[] = []
  let headLength = 0
  let ended = false
  while (headLength < 3) {
    const next = await it.next()
    if (next.done) {
      ended = true
      break
    }
    head.push(next.value)
    headLength += next.value.length
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* head
    if (ended) return
    for (;;) {
      const next = await it.next()
      if (next.done) return
      yield next.value
    }
  }
  const raw = replay()
  const first = Buffer.concat(head)
  if (hasBzip2Magic(first)) {
    const chunks = decompressStream(raw, {...options.bzip2, signal: options.signal, name})
    return {chunks, compressed: true, close: async () => void (await chunks.return(undefined))}
  }
  return {
    chunks: raw,
    compressed: false,
    rawLength: ended ? headLength : undefined,
    close: async () => {
      await raw.return(undefined)
      await it.return?.()
    },
  }
}

/**
 * One pass over a DMAP file or stream. Iterate it once with `for await`; in lax mode read
 * `damage` afterwards.
 */
export class DmapReader implements AsyncIterable<DmapEntry> {
  readonly mode: DmapReadMode
  /** Lax mode: where and why reading stopped early; undefined when the whole input was intact. */
  damage?: DmapDamage
  /** True once the input was found to be bzip2-compressed. */
  compressed = false
  /** Intact records yielded so far. */
  records = 0
  private started = false

  constructor(
    /** The name errors refer to (the file path). */
    readonly name: string,
    private readonly openSource: () => Promise<Source>,
    private readonly options: DmapReadOptions,
  ) {
    this.mode = options.mode ?? 'strict'
  }

  [Symbol.asyncIterator](): AsyncIterator<DmapEntry> {
    if (this.started) throw new Error('DmapReader: a reader can be iterated only once')
    this.started = true
    return this.entries()
  }

  private async *entries(): AsyncGenerator<DmapEntry, void, undefined> {
    const source = await this.openSource()
    this.compressed = source.compressed
    const queue = new ByteQueue()
    const maxRecord = this.options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
    let ended = false
    const fill = async (n: number): Promise<boolean> => {
      while (queue.length < n && !ended) {
        if (this.options.signal?.aborted) throw new InterruptedError(`${this.name}: interrupted`)
        const next = await source.chunks.next()
        if (next.done) ended = true
        else queue.push(next.value)
      }
      return queue.length >= n
    }
    /** Stops at damage: lax records it and ends; strict throws. A bzip2 error found later wins. */
    const damaged = async (offset: number, index: number, reason: string, at?: number): Promise<void> => {
      if (source.compressed) {
        queue.clear()
        while (!ended) {
          const next = await source.chunks.next() // throws the bzip2 error, if there is one
          if (next.done) ended = true
        }
      }
      // The error's offset is where the problem is; the damage offset is where its record starts.
      const error =
        at === undefined
          ? new FormatError(this.name, `record ${index}: ${reason}`, offset)
          : new FormatError(this.name, `record ${index} (from byte ${offset}): ${reason}`, at)
      if (this.mode === 'strict') throw error
      this.damage = {offset, index, reason, error}
    }

    try {
      await fill(3)
      if (this.mode === 'strict' && !source.compressed && ended && queue.length < 3) {
        // darn-dmap needs 3 bytes to look for the bzip2 magic: an empty file is an error.
        throw new FormatError(this.name, queue.length === 0 ? 'empty file (no records)' : `file too short (${queue.length} bytes)`)
      }
      let offset = 0
      for (let index = 0; ; index++) {
        await fill(SPLIT_MIN_BYTES)
        if (queue.length === 0) return
        if (queue.length < SPLIT_MIN_BYTES) {
          return await damaged(offset, index, `incomplete record: ${queue.length} bytes left after the last complete record`)
        }
        const size = queue.uint32(4)
        const signed = size | 0
        const left = source.total !== undefined ? source.total - offset : undefined
        if (size === 0) return await damaged(offset, index, 'record size is 0')
        if (signed < 0) return await damaged(offset, index, `invalid record size ${signed}`)
        if (left !== undefined && size > left) {
          return await damaged(offset, index, `record size ${size} exceeds the ${left} bytes left in the file`)
        }
        if (size > maxRecord) return await damaged(offset, index, `record size ${size} exceeds the reader's limit of ${maxRecord} bytes`)
        if (!(await fill(size))) {
          return await damaged(offset, index, `record size ${size} exceeds the ${queue.length} bytes left in the file`)
        }
        let record: DmapRecord
        try {
          record = parseRecord(queue.take(size))
        } catch (error) {
          if (!(error instanceof DmapRecordError)) throw error
          return await damaged(offset, index, error.reason, offset + error.at)
        }
        const invalid = this.options.validate?.(record, index)
        if (invalid !== undefined) return await damaged(offset, index, invalid)
        this.records++
        yield {index, offset, size, record}
        offset += size
      }
    } finally {
      await source.close().catch(() => undefined)
    }
  }
}

/** Reads a DMAP file (plain or bzip2, detected by the "BZh" magic) record by record. */
export function readDmapFile(path: string, options: DmapReadOptions = {}): DmapReader {
  return new DmapReader(path, () => openFileSource(path, options), options)
}

/** Reads DMAP records from a byte stream (plain or bzip2). `name` is what errors refer to. */
export function readDmapStream(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, name: string, options: DmapReadOptions = {}): DmapReader {
  return new DmapReader(name, () => openStreamSource(source, name, options), options)
}

export interface DmapReadResult {
  entries: DmapEntry[]
  /** Lax mode only: the first damaged record. */
  damage?: DmapDamage
  compressed: boolean
}

/**
 * Reads a whole file into memory: strict mode gives every record or throws, with nothing
 * returned on failure (darn-dmap `read_file`); lax mode gives the intact leading records and the
 * damage (darn-dmap `read_file_lax`).
 */
export async function readDmap(path: string, options: DmapReadOptions = {}): Promise<DmapReadResult> {
  const reader = readDmapFile(path, options)
  const entries: DmapEntry[] = []
  for await (const entry of reader) entries.push(entry)
  return {entries, damage: reader.damage, compressed: reader.compressed}
}
