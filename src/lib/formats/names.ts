// File-name rules of the data flow. Names are UTC. The patterns are strict (anchored, escaped
// dots, slices 0–25); the original bash helpers' defects (unescaped dots, no slice range check,
// `.hdf5` partner names, garbage for `.hdf5` inputs) are deliberately not reproduced
// (docs/design.md#name-helpers-sloppy, #failure-partner-left-behind).
import {basename, dirname, join} from 'node:path'

import {FormatError} from '../errors.js'

export type BorealisType = 'rawacf' | 'antennas_iq' | 'bfiq'

export interface NameTime {
  /** YYYYMMDD */
  date: string
  /** HHMM */
  hhmm: string
  /** SS */
  ss: string
  /** The first sequence's time, UTC. */
  time: Date
}

export interface BorealisName extends NameTime {
  kind: 'borealis'
  station: string
  slice: number
  type: BorealisType
  /** false for pre-v1.0 `.hdf5` / `.hdf5.site` names. */
  v1: boolean
  site: boolean
}

export interface DmapName extends NameTime {
  kind: 'dmap'
  station: string
  /** Channel letter a–z, or null for legacy names without a channel. */
  channel: string | null
  compressed: boolean
}

export interface PlotName extends NameTime {
  kind: 'plot'
  station: string
  slice: number
  antenna: number
  startSample: number
  endSample: number
}

const PREFIX = String.raw`(\d{8})\.(\d{4})\.(\d{2})\.([a-z]{3})`
const BOREALIS_V1 = new RegExp(String.raw`^${PREFIX}\.(\d+)\.(rawacf|antennas_iq|bfiq)\.h5$`)
const BOREALIS_LEGACY = new RegExp(String.raw`^${PREFIX}\.(\d+)\.(rawacf|antennas_iq|bfiq)\.hdf5(\.site)?$`)
const DMAP = new RegExp(String.raw`^${PREFIX}(?:\.([a-z]))?\.rawacf(\.bz2)?$`)
const PLOT = new RegExp(String.raw`^${PREFIX}\.(\d+)\.antennas_iq\.antenna_(\d+)_(\d+)_(\d+)\.jpg$`)
/** What check_timestamp accepts: any `YYYYMMDD.HHMM.SS.sss.x.<anything>`. */
const TIMESTAMPED = new RegExp(String.raw`^${PREFIX}\.[a-z0-9]+\..+$`)

/** Parses the date fields; throws FormatError for impossible dates such as 20231332. */
export function nameTime(file: string, date: string, hhmm: string, ss: string): NameTime {
  const [y, mo, d] = [Number(date.slice(0, 4)), Number(date.slice(4, 6)), Number(date.slice(6, 8))]
  const [h, mi, s] = [Number(hhmm.slice(0, 2)), Number(hhmm.slice(2, 4)), Number(ss)]
  const time = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
  const valid =
    time.getUTCFullYear() === y && time.getUTCMonth() === mo - 1 && time.getUTCDate() === d && h < 24 && mi < 60 && s < 60
  if (!valid) throw new FormatError(file, `not a valid UTC date and time in the name (${date}.${hhmm}.${ss})`)
  return {date, hhmm, ss, time}
}

export function parseBorealisName(path: string): BorealisName {
  const base = basename(path)
  const v1 = BOREALIS_V1.exec(base)
  const match = v1 ?? BOREALIS_LEGACY.exec(base)
  if (!match) throw new FormatError(path, 'not a Borealis file name (YYYYMMDD.HHMM.SS.<site>.<slice>.<type>.h5)')
  const [, date, hhmm, ss, station, slice, type, site] = match as unknown as string[]
  return {
    kind: 'borealis',
    ...nameTime(path, date!, hhmm!, ss!),
    station: station!,
    slice: Number.parseInt(slice!, 10),
    type: type as BorealisType,
    v1: v1 !== null,
    site: site !== undefined,
  }
}

export function parseDmapName(path: string): DmapName {
  const base = basename(path)
  const match = DMAP.exec(base)
  if (!match) throw new FormatError(path, 'not a DMAP rawacf file name (YYYYMMDD.HHMM.SS.<site>.<letter>.rawacf[.bz2])')
  const [, date, hhmm, ss, station, channel, bz2] = match as unknown as (string | undefined)[]
  return {kind: 'dmap', ...nameTime(path, date!, hhmm!, ss!), station: station!, channel: channel ?? null, compressed: bz2 !== undefined}
}

export function parsePlotName(path: string): PlotName {
  const base = basename(path)
  const match = PLOT.exec(base)
  if (!match) throw new FormatError(path, 'not an antennas_iq plot name (….antennas_iq.antenna_<N>_<start>_<end>.jpg)')
  const [, date, hhmm, ss, station, slice, antenna, start, end] = match as unknown as string[]
  return {
    kind: 'plot',
    ...nameTime(path, date!, hhmm!, ss!),
    station: station!,
    slice: Number(slice),
    antenna: Number(antenna),
    startSample: Number(start),
    endSample: Number(end),
  }
}

export function sliceToChannel(slice: number): string {
  if (!Number.isInteger(slice) || slice < 0 || slice > 25) {
    throw new RangeError(`Cannot convert slice ID ${slice} to channel identifier because it is outside range 0-25 (a-z).`)
  }
  return String.fromCharCode(97 + slice)
}

export function channelToSlice(channel: string): number {
  if (!/^[a-z]$/.test(channel)) throw new RangeError(`channel "${channel}" is not one letter a-z`)
  return channel.charCodeAt(0) - 97
}

function keepDir(path: string, base: string): string {
  const dir = dirname(path)
  return dir === '.' && !path.startsWith('./') ? base : join(dir, base)
}

/** `….<slice>.rawacf.h5` (or legacy `.hdf5`) → `….<letter>.rawacf.bz2`, in the same directory. */
export function borealisToDmapName(path: string): string {
  const name = parseBorealisName(path)
  if (name.type !== 'rawacf') throw new FormatError(path, `Unable to generate DMAP file from type ${name.type}`)
  let channel: string
  try {
    channel = sliceToChannel(name.slice)
  } catch (error) {
    throw new FormatError(path, (error as Error).message)
  }
  return keepDir(path, `${name.date}.${name.hhmm}.${name.ss}.${name.station}.${channel}.rawacf.bz2`)
}

/** `….<letter>.rawacf[.bz2]` → `….<slice>.rawacf.h5` (the original wrongly produced `.hdf5`). */
export function dmapToBorealisName(path: string): string {
  const name = parseDmapName(path)
  if (name.channel === null) throw new FormatError(path, 'legacy DMAP name without a channel letter has no Borealis partner')
  return keepDir(path, `${name.date}.${name.hhmm}.${name.ss}.${name.station}.${channelToSlice(name.channel)}.rawacf.h5`)
}

export const MAX_NAME_MTIME_SKEW_S = 86_400

export interface TimestampCheck {
  file: string
  ok: boolean
  /** Name time (UTC, seconds ignored as in the original). */
  nominal: string
  mtime: string
  skewSeconds: number
}

/**
 * check_timestamp: the time in the name (YYYYMMDD.HHMM, UTC, seconds ignored) must be within one
 * day of the file's modification time; exactly 86400 s apart still passes.
 */
export function checkTimestamp(path: string, mtime: Date): TimestampCheck {
  const base = basename(path)
  const match = TIMESTAMPED.exec(base)
  if (!match) throw new FormatError(path, 'not a timestamped data file name (YYYYMMDD.HHMM.SS.<site>.<x>.<type>)')
  const nominal = nameTime(path, match[1]!, match[2]!, '00').time
  const skew = Math.floor(mtime.getTime() / 1000) - nominal.getTime() / 1000
  return {
    file: path,
    ok: Math.abs(skew) <= MAX_NAME_MTIME_SKEW_S,
    nominal: nominal.toISOString(),
    mtime: mtime.toISOString(),
    skewSeconds: skew,
  }
}

/** The `YYYYMMDD.HHMM.SS` prefix shared by every file of one Borealis block. */
export function blockPrefix(path: string): string | null {
  const match = /^(\d{8}\.\d{4}\.\d{2})\./.exec(basename(path))
  return match ? match[1]! : null
}
