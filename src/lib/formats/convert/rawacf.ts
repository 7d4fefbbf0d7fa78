// Borealis rawacf (v1.0+) → DMAP rawacf records, exactly as the reference pyDARNio converter
// produces them (its reference outputs in test/fixtures/borealis/ are the authority: equal byte
// for byte):
// - one DMAP record per (HDF5 record, beam), records in group-name order, beams in stored order;
// - fields, types and order of the table, which is darn-dmap's canonical write order;
// - NumPy 1.x arithmetic: complex64 × float64 scalar is a complex64 × complex64 product in
//   binary32, i.e. re = f32(a·k) − b·0 and im = a·0 + f32(b·k) with k = f32(32767²/dnf²) (the
//   ±0 terms matter for signed zeros and infinities), and |z| of a complex64 is hypotf;
// - `xcfd` only when the record has `xcfs` (xcf = 0 otherwise);
// - txpow is the bitmask of active entries of tx_excitations, not of antenna numbers (kept for
//   parity with the reference: docs/design.md#txpow-bitmask).
// Inputs the reference rejects are FormatErrors naming the file, the record and the field.
import {FormatError} from '../../errors.js'
import type {DmapArray, DmapRecord, DmapScalar} from '../dmap/types.js'
import type {BorealisFile, BorealisRecord, BorealisVersion} from '../hdf5/borealis.js'
import type {HdfFields, HdfValue} from '../hdf5/values.js'
import {cTime, int16OfFloat, int32OfFloat, roundHalfEven, utcFromTimestamp, wrap16} from './numeric.js'
import {stationId} from './stations.js'

/** The record-level datasets the conversion reads (intf_acfs, excitations, gps_* are not). */
export const RAWACF_RECORD_DATASETS = [
  'main_acfs',
  'xcfs',
  'sqn_timestamps',
  'beam_nums',
  'beam_azms',
  'num_sequences',
  'int_time',
  'freq',
  'scan_start_marker',
  'agc_status_word',
  'lp_status_word',
  'tx_excitations',
] as const

/** File-level values, computed once per file. */
export interface RawacfFileValues {
  file: string
  /** The input path exactly as given to the converter (it appears in `combf`). */
  origin: string
  revisionMajor: number
  revisionMinor: number
  originCommand: string
  cp: number
  stid: number
  lagfr: number
  smsep: number
  channel: number
  txpl: number
  mpinc: number
  frang: number
  rsep: number
  ptab: Int16Array
  ltab: Int16Array
  ltabRows: number
  /** Lags including the alternate lag 0 (= lag_numbers length). */
  lags: number
  mplgs: number
  experimentComment: string
  sliceComment: string
  /** 32767² / dnf², binary64. */
  scale: number
}

const fail = (file: string, reason: string): never => {
  throw new FormatError(file, reason)
}

function intList(fields: HdfFields, name: string): Int16Array {
  const value = fields.ints(name)
  return Int16Array.from(value.data as ArrayLike<number | bigint>, (v) => wrap16(v))
}

function int16Field(fields: HdfFields, name: string): number {
  return wrap16(fields.integer(name))
}

function floatToInt16(fields: HdfFields, name: string, x: number): number {
  return int16OfFloat(x) ?? fields.fail(name, `value ${x} cannot be stored as a DMAP short`)
}

/** Reads and checks the /metadata values the conversion needs (a bad one is a FormatError). */
export function rawacfFileValues(path: string, origin: string, version: BorealisVersion, m: HdfFields): RawacfFileValues {
  const char = (n: number, what: string) => (n >= -128 && n <= 127 ? n : fail(path, `${what} ${n} does not fit a DMAP char`))
  const station = m.string('station')
  const stid = stationId(station) ?? fail(path, `unknown station code "${station}" (no SuperDARN station id)`)
  const lagNumbers = m.ints('lag_numbers')
  const lagPulses = m.ints('lag_pulses')
  if (lagPulses.shape.length !== 2 || lagPulses.shape[1] !== 2) m.fail('lag_pulses', `expected shape [lags, 2], found [${lagPulses.shape.join(', ')}]`)
  const lags = lagNumbers.data.length
  if (lags < 1) m.fail('lag_numbers', 'is empty')
  const dnf = m.number('data_normalization_factor')
  return {
    file: path,
    origin,
    revisionMajor: char(version.major, 'Borealis major version'),
    revisionMinor: char(version.minor, 'Borealis minor version'),
    originCommand: `Borealis ${version.gitHash} ${m.string('experiment_name')}`,
    cp: int16Field(m, 'experiment_id'),
    stid,
    lagfr: floatToInt16(m, 'first_range_rtt', m.number('first_range_rtt')),
    smsep: floatToInt16(m, 'rx_sample_rate', 1e6 / m.number('rx_sample_rate')),
    channel: int16Field(m, 'slice_id'),
    txpl: int16Field(m, 'tx_pulse_len'),
    mpinc: int16Field(m, 'tau_spacing'),
    frang: floatToInt16(m, 'first_range', roundHalfEven(m.number('first_range'))),
    rsep: floatToInt16(m, 'range_sep', roundHalfEven(m.number('range_sep'))),
    ptab: intList(m, 'pulses'),
    ltab: intList(m, 'lag_pulses'),
    ltabRows: lagPulses.shape[0]!,
    lags,
    mplgs: lags - 1,
    experimentComment: m.string('experiment_comment'),
    sliceComment: m.string('slice_comment'),
    scale: 1073676289 / (dnf * dnf),
  }
}

/** Correlations scaled as NumPy 1.x does it, the first `mplgs` lags of every range of one beam. */
function scaleCorrelations(
  source: HdfValue & {kind: 'complex'},
  beam: number,
  ranges: number,
  lags: number,
  mplgs: number,
  scale: number,
): {values: Float32Array; pwr0: Float32Array} {
  const values = new Float32Array(ranges * mplgs * 2)
  const pwr0 = new Float32Array(ranges)
  const data = source.data
  const single = data instanceof Float32Array
  // complex64 × python float: the scalar becomes complex64 (k + 0j) and the product is formed in
  // binary32. complex128 inputs (not written by Borealis) multiply in binary64.
  const k = single ? Math.fround(scale) : scale
  let out = 0
  for (let r = 0; r < ranges; r++) {
    let at = ((beam * ranges + r) * lags) * 2
    for (let l = 0; l < mplgs; l++, at += 2) {
      const a = data[at]!
      const b = data[at + 1]!
      const re = single ? Math.fround(a * k) - b * 0 : a * k - b * 0
      const im = single ? a * 0 + Math.fround(b * k) : a * 0 + b * k
      values[out++] = re
      values[out++] = im
      if (l === 0) {
        // |z| of complex64 is hypotf: exact squares in binary64, one rounding to binary32.
        const re32 = Math.fround(re)
        const im32 = Math.fround(im)
        pwr0[r] = Math.sqrt(re32 * re32 + im32 * im32)
      }
    }
  }
  return {values, pwr0}
}

/** The DMAP records (one per beam) of one Borealis rawacf record. */
export function convertRawacfRecord(file: RawacfFileValues, record: BorealisRecord): DmapRecord[] {
  const f = record.fields
  const beamNums = f.ints('beam_nums').data
  const beamAzms = f.floats('beam_azms').data
  const beams = beamNums.length
  if (beamAzms.length < beams) f.fail('beam_azms', `has ${beamAzms.length} entries for ${beams} beams`)
  const main = f.complex('main_acfs')
  if (main.shape.length !== 3) f.fail('main_acfs', `expected shape [beams, ranges, lags], found [${main.shape.join(', ')}]`)
  const [mainBeams, ranges, lags] = main.shape as [number, number, number]
  if (mainBeams !== beams) f.fail('main_acfs', `has ${mainBeams} beams but beam_nums has ${beams}`)
  if (lags !== file.lags) f.fail('main_acfs', `has ${lags} lags but lag_numbers has ${file.lags}`)
  const xcfs = f.has('xcfs') ? f.complex('xcfs') : null
  if (xcfs && xcfs.shape.join() !== main.shape.join()) {
    f.fail('xcfs', `shape [${xcfs.shape.join(', ')}] differs from main_acfs [${main.shape.join(', ')}]`)
  }
  const timestamps = f.floats('sqn_timestamps').data
  if (timestamps.length === 0) f.fail('sqn_timestamps', 'is empty')
  const t0 = utcFromTimestamp(timestamps[0]!)
  const tx = f.complex('tx_excitations').data
  let bits = 0
  // uint16 arithmetic: entries past the 16th add 2^i ≡ 0 (mod 2^16).
  for (let i = 0; 2 * i < tx.length && i < 16; i++) if (Math.hypot(tx[2 * i]!, tx[2 * i + 1]!) > 0) bits += 2 ** i
  const intTime = f.number('int_time')
  const inttSc = floatToInt16(f, 'int_time', Math.floor(intTime))
  const inttUs = int32OfFloat((intTime % 1) * 1e6) ?? f.fail('int_time', `value ${intTime} is not finite`)
  const combf =
    `Converted from Borealis file: ${file.origin} ; Number of beams in record: ${beams} ; ` +
    `${file.experimentComment} ; ${file.sliceComment}`

  const slist = Int16Array.from({length: ranges}, (_, r) => r)
  const records: DmapRecord[] = []
  for (let b = 0; b < beams; b++) {
    const s = (type: DmapScalar['type'], value: number | string): DmapScalar => ({type, value})
    const scalars = new Map<string, DmapScalar>([
      ['radar.revision.major', s('char', file.revisionMajor)],
      ['radar.revision.minor', s('char', file.revisionMinor)],
      ['origin.code', s('char', 100)],
      ['origin.time', s('string', cTime(t0))],
      ['origin.command', s('string', file.originCommand)],
      ['cp', s('short', file.cp)],
      ['stid', s('short', file.stid)],
      ['time.yr', s('short', t0.year)],
      ['time.mo', s('short', t0.month)],
      ['time.dy', s('short', t0.day)],
      ['time.hr', s('short', t0.hour)],
      ['time.mt', s('short', t0.minute)],
      ['time.sc', s('short', t0.second)],
      ['time.us', s('int', t0.microsecond)],
      ['txpow', s('short', wrap16(bits))],
      ['nave', s('short', wrap16(f.integer('num_sequences')))],
      ['atten', s('short', 0)],
      ['lagfr', s('short', file.lagfr)],
      ['smsep', s('short', file.smsep)],
      ['ercod', s('short', 0)],
      ['stat.agc', s('short', wrap16(f.integer('agc_status_word')))],
      ['stat.lopwr', s('short', wrap16(f.integer('lp_status_word')))],
      ['noise.search', s('float', 0)],
      ['noise.mean', s('float', 0)],
      ['channel', s('short', file.channel)],
      ['bmnum', s('short', wrap16(beamNums[b]!))],
      ['bmazm', s('float', Math.fround(beamAzms[b]!))],
      ['scan', s('short', f.boolean('scan_start_marker') ? 1 : 0)],
      ['offset', s('short', 0)],
      ['rxrise', s('short', 0)],
      ['intt.sc', s('short', inttSc)],
      ['intt.us', s('int', inttUs)],
      ['txpl', s('short', file.txpl)],
      ['mpinc', s('short', file.mpinc)],
      ['mppul', s('short', wrap16(file.ptab.length))],
      ['mplgs', s('short', wrap16(file.mplgs))],
      ['nrang', s('short', wrap16(ranges))],
      ['frang', s('short', file.frang)],
      ['rsep', s('short', file.rsep)],
      ['xcf', s('short', xcfs ? 1 : 0)],
      ['tfreq', s('short', wrap16(f.integer('freq')))],
      ['mxpwr', s('int', -1)],
      ['lvmax', s('int', 20000)],
      ['rawacf.revision.major', s('int', 1)],
      ['rawacf.revision.minor', s('int', 0)],
      ['combf', s('string', combf)],
      ['thr', s('float', 0)],
    ])
    const acf = scaleCorrelations(main, b, ranges, lags, file.mplgs, file.scale)
    const arrays = new Map<string, DmapArray>([
      ['ptab', {type: 'short', shape: [file.ptab.length], data: file.ptab}],
      ['ltab', {type: 'short', shape: [file.ltabRows, 2], data: file.ltab}],
      ['pwr0', {type: 'float', shape: [ranges], data: acf.pwr0}],
      ['slist', {type: 'short', shape: [ranges], data: slist}],
      ['acfd', {type: 'float', shape: [ranges, file.mplgs, 2], data: acf.values}],
    ])
    if (xcfs) {
      const xcf = scaleCorrelations(xcfs, b, ranges, lags, file.mplgs, file.scale)
      arrays.set('xcfd', {type: 'float', shape: [ranges, file.mplgs, 2], data: xcf.values})
    }
    records.push({scalars, arrays})
  }
  return records
}

/**
 * Every DMAP record of a Borealis rawacf file, in order, one HDF5 record in memory at a time.
 * `origin` is the input path as the operator gave it (it is written into `combf`).
 */
export async function* rawacfToDmap(file: BorealisFile, origin: string): AsyncGenerator<DmapRecord> {
  if (file.type !== 'rawacf') throw new FormatError(file.path, `not a rawacf file (${file.type}): only rawacf converts to DMAP`)
  if (file.recordNames.length === 0) throw new FormatError(file.path, 'no records')
  const values = rawacfFileValues(file.path, origin, file.version, file.metadata)
  for await (const record of file.records({datasets: RAWACF_RECORD_DATASETS})) {
    yield* convertRawacfRecord(values, record)
  }
}
