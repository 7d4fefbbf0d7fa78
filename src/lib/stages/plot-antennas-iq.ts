// Stage plot-antennas-iq (site-linux): plots the
// slice-0 antennas_iq files of the last two clock hours (UTC, by name) from the site data root's
// antennas_iq_array/ and conversion_failure/ into site.plotDirectory, which rsync-to-campus sends
// from. Per file: antennas 0–19, 30–80 dB, samples 0–70, one 1000 px JPEG per antenna.
//
// Fixed defects of the original: the window is computed in UTC, as the names are (not
// host-local time); the data root follows nasSites (the NAS, or the site-linux data root) instead
// of being hard-coded; only slice 0 is selected (the original's `0.antennas` also matched slices
// 10, 20, …). The JPEGs are rendered at their final 1000 px width straight into the plot
// directory, each under a hidden temporary name and renamed when complete, so there is no
// fullsize/ or failed_resize/ directory and rsync-to-campus never ships a half-written image.
// (docs/design.md#plot-window-local-time, #plot-slice-match-too-wide)
import {join} from 'node:path'

import {resolvePath} from '../config/index.js'
import {oneLine} from '../errors.js'
import {parseBorealisName} from '../formats/names.js'
import {cleanStaleTemps} from '../fs/atomic.js'
import {filesIn} from './rsync-to-campus.js'
import type {StageContext} from './runner.js'

export interface PlotAntennasIqOptions {
  /** Plot the window that ends at this time instead of now (re-plotting a past block). */
  at?: Date
}

export interface PlotFileOutcome {
  source: string
  /** The plot directory. */
  destination: string
  outcome: 'plotted' | 'failed' | 'planned'
  plots: string[]
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

export async function plotAntennasIq(context: StageContext, options: PlotAntennasIqOptions = {}): Promise<PlotAntennasIqResult> {
  const {config, radar, dryRun, summary, log, signal} = context
  const vars = {radar, home: process.env.HOME}
  const root = resolvePath(config.nasSites.includes(radar) ? config.site.nasDataRoot : config.site.siteLinuxDataRoot, vars)
  const plotDirectory = resolvePath(config.site.plotDirectory, vars)
  const hours = plotWindow(options.at ?? context.now())
  const searched = [join(root, 'antennas_iq_array'), join(root, 'conversion_failure')]

  summary.line(`IQ plot directory: ${plotDirectory}`)
  summary.blank()
  const result: PlotAntennasIqResult = {succeeded: 0, failed: 0, plotDirectory, hours, searched, files: []}
  const inputs: string[] = []
  for (const dir of searched) inputs.push(...(await filesIn(dir, (name) => inPlotWindow(name, hours))))
  for (const file of inputs) log.event('file.detected', {file})
  if (inputs.length === 0) {
    summary.line('No antenna iq files found to plot.')
    return result
  }
  if (!dryRun) {
    // Leftovers of a run killed mid-write (hidden, so never sent); nothing else is removed.
    await cleanStaleTemps(plotDirectory, STALE_TEMP_MS)
  }

  const {plotAntennasIqFile, SITE_PLOT_DEFAULTS} = await import('../../plotting/antennas-iq.js')
  for (const source of inputs) {
    if (signal.aborted) break
    const outcome = await plotAntennasIqFile(source, {...SITE_PLOT_DEFAULTS, plotDirectory, html: false, dryRun, signal})
    const plots = outcome.plots.map((p) => p.path)
    if (dryRun) {
      result.files.push({source, destination: plotDirectory, outcome: 'planned', plots, ...(outcome.ok ? {} : {reason: outcome.error})})
      continue
    }
    if (outcome.ok) {
      result.succeeded++
      summary.line(`Successfully converted: ${source}`)
      result.files.push({source, destination: plotDirectory, outcome: 'plotted', plots})
    } else {
      const reason = outcome.error ?? 'unknown error'
      result.failed++
      summary.line(`Failed to generate iq plot from: ${source}`)
      log.event('file.failed', {file: source, plots: plots.length, error: oneLine(reason)}, 'error')
      await context.alert(`Failed to generate iq plot from: ${source}: ${reason}`)
      result.files.push({source, destination: plotDirectory, outcome: 'failed', plots, reason})
    }
  }
  return result
}
