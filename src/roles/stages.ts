// StageId → the stage function, for the daemon: the very functions the one-off subcommands call
// (src/commands/<stage>.ts), run through the same runStage(). Heavy stages (HDF5 conversion,
// plotting) are imported on first use, as their commands do, so that starting a daemon whose role
// never runs them does not load them.
import type {PlotAntennasIqResult} from '../lib/stages/plot-antennas-iq.js'
import type {ConvertOnCampusResult} from '../lib/stages/convert-on-campus.js'
import {archiveIqPlots} from '../lib/stages/archive-iq-plots.js'
import {distributeBorealisData} from '../lib/stages/distribute-borealis-data.js'
import {rsyncToCampus} from '../lib/stages/rsync-to-campus.js'
import {rsyncToNas} from '../lib/stages/rsync-to-nas.js'
import type {StageContext} from '../lib/stages/runner.js'
import type {StageId} from '../lib/stages/specs.js'
import {transferCamPhotos} from '../lib/stages/transfer-cam-photos.js'

/** What the daemon passes besides the context: the file whose creation started the run (borealis). */
export interface StageRunOptions {
  trigger?: string
}

/** Every stage body's result, as far as the daemon reads it. */
export interface StageOutcome {
  succeeded: number
  failed: number
  files: ReadonlyArray<{outcome: string}>
}

export interface StageEntry {
  run: (context: StageContext, options: StageRunOptions) => Promise<StageOutcome>
  /**
   * Whether files waiting for this stage are a reason for a reconcile rescan to run the chain.
   * True for stages that move their inputs away once done, so "files are waiting" means "work is
   * due". Plotting leaves its inputs on the NAS and re-plots the last two hours each run: its
   * inputs would look due at every rescan, so it only runs as part of a chain started for
   * another reason.
   */
  rescan: boolean
}

export const STAGE_FUNCTIONS: Readonly<Record<StageId, StageEntry>> = {
  'rsync-to-nas': {run: (context, {trigger}) => rsyncToNas(context, {trigger}), rescan: true},
  'plot-antennas-iq': {
    run: async (context): Promise<PlotAntennasIqResult> => (await import('../lib/stages/plot-antennas-iq.js')).plotAntennasIq(context),
    rescan: false,
  },
  'rsync-to-campus': {run: (context) => rsyncToCampus(context), rescan: true},
  'transfer-cam-photos': {run: (context) => transferCamPhotos(context), rescan: true},
  'convert-on-campus': {
    run: async (context): Promise<ConvertOnCampusResult> => (await import('../lib/stages/convert-on-campus.js')).convertOnCampus(context),
    rescan: true,
  },
  'distribute-borealis-data': {run: (context) => distributeBorealisData(context), rescan: true},
  'archive-iq-plots': {run: (context) => archiveIqPlots(context), rescan: true},
}
