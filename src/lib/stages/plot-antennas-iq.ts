// Stage plot-antennas-iq (site-linux): plots the
// slice-0 antennas_iq files of the last two clock hours (UTC, by name) from the site data root's
// antennas_iq_array/ and conversion_failure/ into site.plotDirectory, which rsync-to-campus sends
// from. Per file: antennas 0–19, 30–80 dB, samples 0–70, one 1000 px JPEG per antenna.
//
// What the original got wrong (docs/design.md#plot-window-local-time): the window is computed in UTC, as the names are (not
// host-local time); the data root follows nasSites (the NAS, or the site-linux data root) instead
// of being hard-coded; only slice 0 is selected (the original's `0.antennas` also matched slices
// 10, 20, …). The JPEGs are rendered at their final 1000 px width straight into the plot
// directory, each under a hidden temporary name and renamed when complete, so there is no
// fullsize/ or failed_resize/ directory and rsync-to-campus never ships a half-written image.
import {stat} from 'node:fs/promises'
import {join} from 'node:path'

import {oneLine} from '../errors.js'
import {parseBorealisName} from '../formats/names.js'
import {cleanStaleTemps} from '../fs/atomic.js'
import {filesIn} from '../fs/list.js'
import {forEachFile, type FileRecord} from './skeleton.js'
import type {StageContext} from './runner.js'

export interface PlotAntennasIqOptions {
  /** Plot the window that ends at this time instead of now (re-plotting a past block). */
  at?: Date
}

export interface PlotFileOutcome extends FileRecord {
  source: string
  /** The plot directory. */
  destination: string
  outcome: 'plotted' | 'failed' | 'planned'
  plots?: string[]
  reason?: string
}

export interface PlotAntennasIqResult {
  succeeded: number
  failed: number
  plotDirectory: string
  /** The `YYYYMMDD.HH` hour stamps searched (UTC). */
  hours: string[]
  searched: string[]
  files: PlotFileOutcome[]
}

const pad = (n: number) => String(n).padStart(2, '0')
const hourStamp = (t: Date) => `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}.${pad(t.getUTCHours())}`

/** The two UTC hour stamps `YYYYMMDD.HH` of `now − 2 h` and `now − 1 h`. */
export function plotWindow(now: Date): string[] {
  return [2, 1].map((h) => hourStamp(new Date(now.getTime() - h * 3_600_000)))
}

/** Whether a file name is a slice-0 antennas_iq file (v1.0 name) of one of the window's hours. */
export function inPlotWindow(name: string, hours: readonly string[]): boolean {
  try {
    const parsed = parseBorealisName(name)
    return parsed.v1 && parsed.type === 'antennas_iq' && parsed.slice === 0 && hours.includes(`${parsed.date}.${parsed.hhmm.slice(0, 2)}`)
  } catch {
    return false
  }
}

/** Temporary files older than this in the plot directory are leftovers of an interrupted run. */
const STALE_TEMP_MS = 3_600_000

/** Everything plot-antennas-iq needs, resolved by the role layout. */
export interface PlotAntennasIqLayout {
  /** The site data root (NAS or site-linux disk): antennas_iq_array/ and conversion_failure/ are read. */
  root: string
  /** Where the JPEGs go (rsync-to-campus sends them from here). */
  plotDirectory: string
}

export async function plotAntennasIq(context: StageContext, layout: PlotAntennasIqLayout, options: PlotAntennasIqOptions = {}): Promise<PlotAntennasIqResult> {
  const {dryRun, summary, signal} = context
  const {root, plotDirectory} = layout
  const hours = plotWindow(options.at ?? context.now())
  const searched = [join(root, 'antennas_iq_array'), join(root, 'conversion_failure')]

  summary.line(`IQ plot directory: ${plotDirectory}`)
  summary.blank()
  const result: PlotAntennasIqResult = {succeeded: 0, failed: 0, plotDirectory, hours, searched, files: []}
  const inputs: string[] = []
  await stat(root)
  for (const dir of searched) inputs.push(...(await filesIn(dir, (name) => inPlotWindow(name, hours), {missingOk: true})))
  if (inputs.length === 0) {
    summary.line('No antenna iq files found to plot.')
    return result
  }
  if (!dryRun) {
    // Leftovers of a run killed mid-write (hidden, so never sent); nothing else is removed.
    await cleanStaleTemps(plotDirectory, STALE_TEMP_MS)
  }

  const {plotAntennasIqFile, SITE_PLOT_DEFAULTS} = await import('../../plotting/antennas-iq.js')
  // Plotting reads its inputs and never moves them (they stay on the NAS): a file that cannot be
  // plotted is reported and alerted, and left where it is.
  const plotted = await forEachFile(context, inputs, {
    quarantineDirectory: null,
    path: (source) => source,
    onFailure: (source) => ({summary: [`Failed to generate iq plot from: ${source}`], quarantine: 'keep'}),
    handle: async (source): Promise<PlotFileOutcome> => {
      const outcome = await plotAntennasIqFile(source, {...SITE_PLOT_DEFAULTS, plotDirectory, html: false, dryRun, signal})
      const plots = outcome.plots.map((p) => p.path)
      if (dryRun) return {source, destination: plotDirectory, outcome: 'planned', plots, ...(outcome.ok ? {} : {reason: outcome.error})}
      if (!outcome.ok) {
        throw new Error(`${oneLine(outcome.error ?? 'unknown error')} (${plots.length} of the plots made)`)
      }
      summary.line(`Successfully converted: ${source}`)
      return {source, destination: plotDirectory, outcome: 'plotted', plots}
    },
  })
  return {...result, ...plotted, files: plotted.files as PlotFileOutcome[]}
}
