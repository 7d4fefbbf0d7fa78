// antennas_iq plots of one file (the original's iq_plotting.py): per antenna a
// 1000 px JPEG `<first six name fields>.antenna_<N>_<start>_<end>.jpg`, and optionally one
// self-contained interactive HTML page with every plotted antenna. Used by `dataflow plot-iq`
// and by the site stage `plot-antennas-iq`.
//
// Contract:
// - The file is read in two streaming passes (iq-data.ts); memory depends on the number of
//   antennas and the image size, not on the file's length.
// - Every output appears atomically: written under a hidden temporary name in the target
//   directory, fsynced, then renamed over any older file of that name. rsync-to-campus, which
//   sends every *.jpg of the plot directory, never sees a half-written image.
// - Requested antennas that the file does not have do not stop the others from being plotted;
//   the file's outcome is then a failure naming them.
// - Never throws for a problem of the file: the outcome carries a one-line reason that names it.
import {mkdir} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {FormatError, oneLine, UsageError} from '../lib/errors.js'
import {writeFileAtomic} from '../lib/fs/atomic.js'
import {type AntennasIqIndex, formatAntennaList, openAntennasIq} from './iq-data.js'
import {iqFigureLayout, type IqFigureSpec, renderIqFigure} from './iq-figure.js'
import {HTML_MAX_COLUMNS, HTML_MAX_ROWS, renderIqHtml} from './iq-html.js'

export interface PlotIqOptions {
  /** Antenna numbers to plot; null: every antenna of the file (rx_antennas). */
  antennas: readonly number[] | null
  minPower: number
  maxPower: number
  startSample: number
  /** Exclusive. */
  endSample: number
  /** Output directory; null: the input file's directory. */
  plotDirectory: string | null
  /** Also write the interactive page. */
  html: boolean
  /** Print nothing, write nothing: only the planned outputs (the file's index is still read). */
  dryRun?: boolean
  signal?: AbortSignal
}

export interface PlotIqOutcome {
  input: string
  ok: boolean
  /** Written (or, in a dry run, planned) images. */
  plots: Array<{antenna: number; path: string}>
  html: string | null
  /** One line naming the file, when !ok. */
  error?: string
  sequences?: number
  records?: number
  /** Wall time of the two reading passes, the rendering and the writing. */
  seconds?: {read: number; render: number; write: number}
}

/** The original site job's settings: antennas 0–19, 30–80 dB, samples 0–70. */
export const SITE_PLOT_DEFAULTS = {antennas: Array.from({length: 20}, (_, i) => i), minPower: 30, maxPower: 80, startSample: 0, endSample: 70}

/**
 * `0-2,5,9-12` → [0, 1, 2, 5, 9, 10, 11, 12] (sorted, without repeats). UsageError for anything
 * else: empty entries, more than one `-`, a descending range, non-integers.
 */
export function parseAntennaList(text: string): number[] {
  const out = new Set<number>()
  for (const raw of text.split(',')) {
    const entry = raw.trim()
    const match = /^(\d+)(?:-(\d+))?$/.exec(entry)
    if (!match) throw new UsageError(`--antennas "${text}": "${entry}" is not an antenna number or a range like 0-19`)
    const from = Number(match[1])
    const to = match[2] === undefined ? from : Number(match[2])
    if (to < from) throw new UsageError(`--antennas "${text}": the range ${entry} runs backwards`)
    if (to - from > 10_000) throw new UsageError(`--antennas "${text}": the range ${entry} is implausibly long`)
    for (let n = from; n <= to; n++) out.add(n)
  }
  return [...out].sort((a, b) => a - b)
}

/** UsageError unless the numeric options make sense together. */
export function checkPlotOptions(options: Pick<PlotIqOptions, 'minPower' | 'maxPower' | 'startSample' | 'endSample'>): void {
  const {minPower, maxPower, startSample, endSample} = options
  if (![minPower, maxPower].every(Number.isFinite)) throw new UsageError('--min-power and --max-power must be numbers')
  if (!(maxPower > minPower)) throw new UsageError(`--max-power (${maxPower}) must be greater than --min-power (${minPower})`)
  if (!Number.isInteger(startSample) || startSample < 0) throw new UsageError(`--start-sample (${startSample}) must be a whole number ≥ 0`)
  if (!Number.isInteger(endSample) || endSample <= startSample) throw new UsageError(`--end-sample (${endSample}) must be a whole number greater than --start-sample (${startSample})`)
}

/** The first six dot-separated fields of the input's name (the whole name less `.h5` if it has fewer). */
function stem(input: string): string {
  const name = basename(input)
  const fields = name.split('.')
  return fields.length >= 6 ? fields.slice(0, 6).join('.') : name.replace(/\.h5$/, '')
}

export function plotFileName(input: string, antenna: number, startSample: number, endSample: number): string {
  return `${stem(input)}.antenna_${antenna}_${startSample}_${endSample}.jpg`
}

export function htmlFileName(input: string, startSample: number, endSample: number): string {
  return `${stem(input)}.${startSample}_${endSample}.html`
}

const pad = (n: number) => String(n).padStart(2, '0')
/** `YYYYmmdd` and `HH:MM:SS` of a UTC time in seconds (fractions truncated, like strftime). */
function utcParts(seconds: number): {date: string; time: string} {
  const d = new Date(Math.floor(seconds) * 1000)
  return {
    date: `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  }
}

/** `SAS - Normalscan: antenna_0 Power - 20231004 14:00:00 to 14:00:03 UTC` (antenna null: no antenna part). */
export function plotTitle(index: Pick<AntennasIqIndex, 'station' | 'experiment' | 'firstTime' | 'lastTime'>, antenna: number | null): string {
  const first = utcParts(index.firstTime)
  const last = utcParts(index.lastTime)
  const what = antenna === null ? 'antennas_iq Power' : `antenna_${antenna} Power`
  return `${index.station} - ${index.experiment}: ${what} - ${first.date} ${first.time} to ${last.time} UTC`
}

const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9

export async function plotAntennasIqFile(input: string, options: PlotIqOptions): Promise<PlotIqOutcome> {
  const outDir = options.plotDirectory ?? dirname(input)
  const outcome: PlotIqOutcome = {input, ok: false, plots: [], html: null}
  const fail = (error: unknown): PlotIqOutcome => {
    const text = oneLine(error)
    outcome.error = error instanceof FormatError || text.startsWith(`${input}:`) ? text : `${input}: ${text}`
    return outcome
  }
  let source: Awaited<ReturnType<typeof openAntennasIq>> | undefined
  try {
    checkPlotOptions(options)
    const started = process.hrtime.bigint()
    source = await openAntennasIq(input)
    const {index} = source
    const wanted = options.antennas ?? index.rxAntennas
    const present = wanted.filter((a) => index.rxAntennas.includes(a))
    const missing = wanted.filter((a) => !index.rxAntennas.includes(a))
    outcome.sequences = index.totalSequences
    outcome.records = index.numSequences.length
    const {startSample, endSample, minPower, maxPower} = options
    const targetOf = (antenna: number) => join(outDir, plotFileName(input, antenna, startSample, endSample))
    const htmlTarget = options.html ? join(outDir, htmlFileName(input, startSample, endSample)) : null
    const spec = (antenna: number | null): IqFigureSpec => ({
      title: plotTitle(index, antenna),
      numSequences: index.numSequences,
      firstSequence: index.firstSequence,
      totalSequences: index.totalSequences,
      startSample,
      endSample,
      minPower,
      maxPower,
    })
    const layout = iqFigureLayout(spec(null))
    if (options.dryRun) {
      outcome.plots = present.map((antenna) => ({antenna, path: targetOf(antenna)}))
      outcome.html = present.length > 0 ? htmlTarget : null
    } else if (present.length > 0) {
      const limits = [{columns: layout.image.width, rows: layout.image.height}]
      if (htmlTarget) limits.push({columns: HTML_MAX_COLUMNS, rows: HTML_MAX_ROWS})
      const [imageGrids, htmlGrids] = await source.readPower({antennas: present, startSample, endSample, limits, signal: options.signal})
      source.close()
      source = undefined
      const read = seconds(started)
      let render = 0
      let write = 0
      await mkdir(outDir, {recursive: true})
      for (const grid of imageGrids!) {
        if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted')
        const renderStart = process.hrtime.bigint()
        const jpeg = await renderIqFigure(spec(grid.antenna), layout, grid)
        render += seconds(renderStart)
        const writeStart = process.hrtime.bigint()
        const target = targetOf(grid.antenna)
        await writeFileAtomic(target, jpeg, {overwrite: true, mode: 0o644})
        write += seconds(writeStart)
        outcome.plots.push({antenna: grid.antenna, path: target})
      }
      if (htmlTarget && htmlGrids) {
        const renderStart = process.hrtime.bigint()
        const page = await renderIqHtml({
          title: plotTitle(index, null),
          index,
          grids: htmlGrids,
          titles: htmlGrids.map((g) => plotTitle(index, g.antenna)),
          startSample,
          endSample,
          minPower,
          maxPower,
        })
        render += seconds(renderStart)
        const writeStart = process.hrtime.bigint()
        await writeFileAtomic(htmlTarget, page, {overwrite: true, mode: 0o644})
        write += seconds(writeStart)
        outcome.html = htmlTarget
      }
      outcome.seconds = {read, render, write}
    }
    if (missing.length > 0) {
      return fail(new FormatError(input, `antenna${missing.length > 1 ? 's' : ''} ${formatAntennaList(missing)} not in this file's rx_antennas (${formatAntennaList(index.rxAntennas)})`))
    }
    outcome.ok = true
    return outcome
  } catch (error) {
    return fail(error)
  } finally {
    source?.close()
  }
}
