// The numbers an antennas_iq plot shows, read from a Borealis v1.0
// antennas_iq file in two streaming passes, so that memory does not grow with the file's length:
//
//   1. the record index: num_sequences and sqn_timestamps of every record (a few bytes each);
//   2. the samples: antennas_iq_data one record at a time, every selected antenna at once, each
//      value 20·log10|x| (= 10·log10(re² + im²)) added into fixed-size bins.
//
// A bin grid is at most as fine as the data (one bin per sequence and per sample) and at most as
// fine as the caller asks (e.g. the pixels of the image). When a 2-hour file has more sequences
// than the image has pixel columns, a bin holds the mean dB of the sequences whose centres fall
// in it (a box filter, like matplotlib's data-stage anti-aliasing) instead of one arbitrary
// sequence. Zero samples (−∞ dB) are left out of the mean; a bin holding only zeros is −∞ (drawn
// in the below-range colour, as matplotlib draws −∞).
import {FormatError} from '../lib/errors.js'
import {type BorealisFile, openBorealisFile} from '../lib/formats/hdf5/borealis.js'

export interface AntennasIqIndex {
  path: string
  /** Upper-case station code from /metadata/station, e.g. SAS. */
  station: string
  experiment: string
  /** Antenna numbers in data order (/metadata/rx_antennas). */
  rxAntennas: number[]
  /** num_sequences of each record, in record order. */
  numSequences: number[]
  /** Index of each record's first sequence in the concatenated sequence axis. */
  firstSequence: number[]
  totalSequences: number
  /** First and last sequence timestamps, seconds since the epoch (UTC). */
  firstTime: number
  lastTime: number
}

export interface BinLimit {
  /** Most bins along the sequence axis (e.g. the image's pixel columns). */
  columns: number
  /** Most bins along the sample axis. */
  rows: number
}

export interface PowerGrid {
  antenna: number
  /** Bins along the sequence axis: min(totalSequences, limit.columns). */
  columns: number
  /** Bins along the sample axis: min(endSample − startSample, limit.rows). */
  rows: number
  /** Mean dB per bin, row-major; row 0 is the first sample bin (the bottom of the plot). */
  values: Float32Array
}

export interface PowerRequest {
  /** Antenna numbers (values of rx_antennas). */
  antennas: readonly number[]
  startSample: number
  endSample: number
  /** One grid per limit and antenna is returned, in this order. */
  limits: readonly BinLimit[]
  signal?: AbortSignal
}

/** [0, 1, 2, 5, 9, 10, 11] → `0-2, 5, 9-11` (the --antennas syntax, for messages). */
export function formatAntennaList(antennas: readonly number[]): string {
  const parts: string[] = []
  for (let i = 0; i < antennas.length; ) {
    let j = i
    while (j + 1 < antennas.length && antennas[j + 1] === antennas[j]! + 1) j++
    parts.push(j > i ? `${antennas[i]}-${antennas[j]}` : `${antennas[i]}`)
    i = j + 1
  }
  return parts.join(', ')
}

/** Bin of each of `n` items when `bins` ≤ n bins share them evenly (centre-in-bin rule). */
function binOf(n: number, bins: number): Int32Array {
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = bins === n ? i : Math.min(bins - 1, Math.floor(((i + 0.5) * bins) / n))
  return out
}

/** 20·log10|re + i·im|: −∞ for a zero sample, NaN for a NaN one. */
export function decibels(re: number, im: number): number {
  const power = re * re + im * im
  return power > 0 ? 10 * Math.log10(power) : power === 0 ? Number.NEGATIVE_INFINITY : Number.NaN
}

class Accumulator {
  readonly sums: Float64Array
  readonly counts: Uint32Array
  readonly zeros: Uint8Array
  readonly colOf: Int32Array
  readonly rowOf: Int32Array
  constructor(
    readonly antenna: number,
    readonly columns: number,
    readonly rows: number,
    totalSequences: number,
    samples: number,
  ) {
    this.sums = new Float64Array(columns * rows)
    this.counts = new Uint32Array(columns * rows)
    this.zeros = new Uint8Array(columns * rows)
    this.colOf = binOf(totalSequences, columns)
    this.rowOf = binOf(samples, rows)
  }

  grid(): PowerGrid {
    const values = new Float32Array(this.columns * this.rows)
    for (let i = 0; i < values.length; i++) {
      const n = this.counts[i]!
      values[i] = n > 0 ? this.sums[i]! / n : this.zeros[i] ? Number.NEGATIVE_INFINITY : Number.NaN
    }
    return {antenna: this.antenna, columns: this.columns, rows: this.rows, values}
  }
}

/** An open antennas_iq file with its record index read (pass 1). Close it when done. */
export interface AntennasIqSource {
  readonly index: AntennasIqIndex
  /** Pass 2: one read of every record; grids[limit][antenna in request order]. */
  readPower(request: PowerRequest): Promise<PowerGrid[][]>
  close(): void
}

function toNumbers(values: ArrayLike<number | bigint>): number[] {
  return Array.from(values, (v) => Number(v))
}

export async function openAntennasIq(path: string): Promise<AntennasIqSource> {
  const file = await openBorealisFile(path)
  try {
    const index = await readIndex(file)
    return {index, readPower: (request) => readPower(file, index, request), close: () => file.close()}
  } catch (error) {
    file.close()
    throw error
  }
}

async function readIndex(file: BorealisFile): Promise<AntennasIqIndex> {
  const path = file.path
  if (file.type !== 'antennas_iq') throw new FormatError(path, `not an antennas_iq file (its records hold ${file.type} data)`)
  if (file.recordNames.length === 0) throw new FormatError(path, 'the file has no records')
  const numSequences: number[] = []
  const firstSequence: number[] = []
  let total = 0
  let firstTime = Number.NaN
  let lastTime = Number.NaN
  for await (const record of file.records({datasets: ['num_sequences', 'sqn_timestamps']})) {
    const n = Number(record.fields.integer('num_sequences'))
    const times = record.fields.floats('sqn_timestamps').data
    if (times.length !== n) record.fields.fail('sqn_timestamps', `${times.length} timestamps for num_sequences = ${n}`)
    if (n > 0) {
      if (Number.isNaN(firstTime)) firstTime = times[0]!
      lastTime = times[n - 1]!
    }
    firstSequence.push(total)
    numSequences.push(n)
    total += n
  }
  if (total === 0) throw new FormatError(path, 'the file has no sequences (num_sequences is 0 in every record)')
  return {
    path,
    station: file.metadata.string('station').trim().toUpperCase(),
    experiment: file.metadata.string('experiment_name').trim(),
    rxAntennas: toNumbers(file.metadata.ints('rx_antennas').data),
    numSequences,
    firstSequence,
    totalSequences: total,
    firstTime,
    lastTime,
  }
}

async function readPower(file: BorealisFile, index: AntennasIqIndex, request: PowerRequest): Promise<PowerGrid[][]> {
  const path = file.path
  const {startSample, endSample} = request
  const samples = endSample - startSample
  const dataIndex = request.antennas.map((antenna) => {
    const at = index.rxAntennas.indexOf(antenna)
    if (at < 0) throw new FormatError(path, `antenna ${antenna} is not in rx_antennas (${formatAntennaList(index.rxAntennas)})`)
    return at
  })
  const accumulators = request.limits.map((limit) =>
    request.antennas.map(
      (antenna) =>
        new Accumulator(antenna, Math.max(1, Math.min(index.totalSequences, limit.columns)), Math.max(1, Math.min(samples, limit.rows)), index.totalSequences, samples),
    ),
  )
  const db = new Float64Array(samples)
  let recordNo = 0
  for await (const record of file.records({datasets: ['antennas_iq_data']})) {
    if (request.signal?.aborted) throw request.signal.reason ?? new Error('aborted')
    const iq = record.fields.complex('antennas_iq_data')
    const [antennas, sequences, perSequence] = iq.shape as [number, number, number]
    if (iq.shape.length !== 3 || !(iq.data instanceof Float32Array)) record.fields.fail('antennas_iq_data', 'expected complex64 [antennas, sequences, samples]')
    if (antennas !== index.rxAntennas.length) {
      record.fields.fail('antennas_iq_data', `${antennas} antennas, but rx_antennas lists ${index.rxAntennas.length}`)
    }
    if (sequences !== index.numSequences[recordNo]) {
      record.fields.fail('antennas_iq_data', `${sequences} sequences, but num_sequences is ${index.numSequences[recordNo]}`)
    }
    if (endSample > perSequence) {
      throw new FormatError(path, `end sample ${endSample} is beyond the ${perSequence} samples of each sequence`)
    }
    const data = iq.data
    const offset = index.firstSequence[recordNo]!
    for (const [i, a] of dataIndex.entries()) {
      for (let s = 0; s < sequences; s++) {
        const base = 2 * ((a * sequences + s) * perSequence + startSample)
        for (let k = 0; k < samples; k++) {
          db[k] = decibels(data[base + 2 * k]!, data[base + 2 * k + 1]!)
        }
        for (const perLimit of accumulators) {
          const acc = perLimit[i]!
          const column = acc.colOf[offset + s]!
          for (let k = 0; k < samples; k++) {
            const value = db[k]!
            const bin = acc.rowOf[k]! * acc.columns + column
            if (value > Number.NEGATIVE_INFINITY) {
              acc.sums[bin]! += value
              acc.counts[bin]!++
            } else if (value === Number.NEGATIVE_INFINITY) {
              acc.zeros[bin] = 1
            }
          }
        }
      }
    }
    recordNo++
    // Let other work (signals, timers) run between records of a long file.
    if (recordNo % 64 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  return accumulators.map((perLimit) => perLimit.map((acc) => acc.grid()))
}
