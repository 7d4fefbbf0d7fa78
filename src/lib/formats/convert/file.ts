// Whole-file conversion Borealis rawacf HDF5 → DMAP rawacf(.bz2), the job of the original
// campus/borealis_to_dmap.py with its inverted type test fixed: it now converts rawacf and rejects
// every other type (docs/design.md#converter-rejects-rawacf).
//
// Contract:
// - The output name is borealisToDmapName() of the input: `.<slice>.rawacf.h5`
//   → `.<letter>.rawacf.bz2` (or `.rawacf` uncompressed), in the input's directory or `outputDir`.
//   Names that are not rawacf, or slices outside 0–25, are rejected before the file is opened.
// - The input path is written into every record's `combf` exactly as given.
// - Streaming: one HDF5 record is in memory at a time; DMAP bytes go to the file or through the
//   compressor as they are made. Memory does not grow with the file's length.
// - All or nothing: the output appears (atomic rename) only when every record converted and the
//   bytes are fsynced; on any error the temporary file is removed and nothing is left.
// - An existing output is an error unless `overwrite` (the original appended to it:
//   docs/design.md#dmap-append-mode).
import {mkdir, stat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {DataflowError, FormatError, InterruptedError, oneLine, UsageError} from '../../errors.js'
import type {Bzip2Options} from '../bzip2.js'
import type {DmapRecord} from '../dmap/types.js'
import {writeDmapFile} from '../dmap/writer.js'
import {openBorealisFile} from '../hdf5/borealis.js'
import {borealisToDmapName} from '../names.js'
import {rawacfToDmap} from './rawacf.js'

export interface ConvertOptions {
  /** Directory of the output (default: the input's directory). */
  outputDir?: string
  /** bzip2 the output (default true): `.rawacf.bz2`, else `.rawacf`. */
  compress?: boolean
  /** Replace an existing output (default false: the file fails). */
  overwrite?: boolean
  signal?: AbortSignal
  bzip2?: Omit<Bzip2Options, 'signal'>
}

export interface ConvertResult {
  input: string
  output: string
  /** HDF5 records read. */
  records: number
  /** DMAP records written (one per record and beam). */
  dmapRecords: number
  /** Uncompressed DMAP bytes. */
  dmapBytes: number
  /** Size of the output file. */
  outputBytes: number
  seconds: number
}

/** Where the DMAP output of `input` goes. FormatError for names that do not convert. */
export function dmapOutputPath(input: string, options: Pick<ConvertOptions, 'outputDir' | 'compress'> = {}): string {
  let output = borealisToDmapName(input)
  if (options.compress === false) output = output.replace(/\.bz2$/, '')
  return options.outputDir ? join(options.outputDir, basename(output)) : output
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}

/** Refuses to publish an empty file: a rawacf file whose records all have zero beams. */
async function* nonEmpty(file: string, records: AsyncIterable<DmapRecord>, counter: {n: number}): AsyncGenerator<DmapRecord> {
  for await (const record of records) {
    counter.n++
    yield record
  }
  if (counter.n === 0) throw new FormatError(file, 'no DMAP records to write (every record has zero beams)')
}

/** Converts one Borealis rawacf file. Throws (FormatError for bad input) and leaves no output on failure. */
export async function convertRawacfFile(input: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const started = performance.now()
  const compress = options.compress ?? true
  const output = dmapOutputPath(input, {outputDir: options.outputDir, compress})
  if (!options.overwrite && (await exists(output))) throw new UsageError(`${output}: already exists (not replaced; --force replaces it)`)
  const file = await openBorealisFile(input)
  try {
    if (options.outputDir) await mkdir(options.outputDir, {recursive: true})
    const counter = {n: 0}
    const written = await writeDmapFile(output, nonEmpty(input, rawacfToDmap(file, input), counter), {
      compress,
      signal: options.signal,
      bzip2: options.bzip2,
    })
    return {
      input,
      output,
      records: file.recordNames.length,
      dmapRecords: written.records,
      dmapBytes: written.bytes,
      outputBytes: (await stat(output)).size,
      seconds: (performance.now() - started) / 1000,
    }
  } catch (error) {
    // The writer names the output; the operator needs the input named.
    if (error instanceof FormatError && error.file !== input) throw new FormatError(input, oneLine(error))
    throw error
  } finally {
    file.close()
  }
}

export interface FileOutcome {
  input: string
  ok: boolean
  output?: string
  records?: number
  dmapRecords?: number
  dmapBytes?: number
  outputBytes?: number
  seconds?: number
  /** One line naming the file, when it failed. */
  error?: string
  /** Exit code this failure alone would give. */
  exitCode?: number
}

export interface BatchOptions extends ConvertOptions {
  /** Files converted at once (default 1). HDF5 reading is single-threaded; compression is not. */
  jobs?: number
  dryRun?: boolean
  /** Called as each file finishes (in completion order). */
  onProgress?: (done: number, total: number, outcome: FileOutcome) => void
}

/** Converts many files; one outcome per input, in input order. Never throws for one file's failure. */
export async function convertRawacfFiles(inputs: readonly string[], options: BatchOptions = {}): Promise<FileOutcome[]> {
  const outcomes: FileOutcome[] = new Array<FileOutcome>(inputs.length)
  let next = 0
  let done = 0
  const one = async (input: string): Promise<FileOutcome> => {
    try {
      if (options.dryRun) {
        const output = dmapOutputPath(input, options)
        await stat(input).catch(() => {
          throw new FormatError(input, 'no such file')
        })
        return {input, ok: true, output}
      }
      return {ok: true, ...(await convertRawacfFile(input, options))}
    } catch (error) {
      if (error instanceof InterruptedError) throw error
      const message = oneLine(error)
      return {input, ok: false, error: message.includes(input) ? message : `${input}: ${message}`, exitCode: error instanceof DataflowError ? error.exitCode : 1}
    }
  }
  const worker = async () => {
    while (next < inputs.length) {
      if (options.signal?.aborted) throw new InterruptedError('conversion interrupted')
      const index = next++
      outcomes[index] = await one(inputs[index]!)
      options.onProgress?.(++done, inputs.length, outcomes[index])
    }
  }
  const jobs = Math.max(1, Math.min(options.jobs ?? 1, inputs.length))
  await Promise.all(Array.from({length: jobs}, worker))
  return outcomes
}
