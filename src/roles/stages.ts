// StageId → the stage function with its layout: the very functions the one-off subcommands call
// (src/commands/<stage>.ts), run through the same runStage() by both. Heavy stages (HDF5
// conversion, plotting) are imported on first use, so that starting a daemon whose role never runs
// them does not load them.
import {archiveIqPlots} from '../lib/stages/archive-iq-plots.js'
import {distributeBorealisData} from '../lib/stages/distribute-borealis-data.js'
import {rsyncToCampus} from '../lib/stages/rsync-to-campus.js'
import {rsyncToNas} from '../lib/stages/rsync-to-nas.js'
import {runStage, type StageContext, type StageOptions, type StageResult} from '../lib/stages/runner.js'
import type {FileRecord} from '../lib/stages/skeleton.js'
import {STAGES, type StageId} from '../lib/stages/specs.js'
import {transferCamPhotos} from '../lib/stages/transfer-cam-photos.js'
import type {RoleLayout} from './layout.js'

/** What every stage body returns. */
export interface StageOutcome {
  succeeded: number
  failed: number
  files: readonly FileRecord[]
}

/** Per-run inputs besides the layout: the new data file that started the run (rsync-to-nas). */
export interface StageInputs {
  trigger?: string
}

type StageBody = (context: StageContext, layout: RoleLayout, inputs: StageInputs) => Promise<StageOutcome>

export interface StageEntry {
  body: StageBody
  /**
   * Whether files waiting for the stage are a reason for a reconcile rescan to run the chain: true
   * for stages that move their inputs away once done. Plotting leaves its inputs on the NAS and
   * re-plots the last two hours each run, so it only runs in a chain started for another reason.
   */
  rescan: boolean
}

export const STAGE_REGISTRY: Readonly<Record<StageId, StageEntry>> = {
  'rsync-to-nas': {body: (context, layout, {trigger}) => rsyncToNas(context, layout.stage('rsync-to-nas'), {trigger}), rescan: true},
  'plot-antennas-iq': {
    body: async (context, layout) => (await import('../lib/stages/plot-antennas-iq.js')).plotAntennasIq(context, layout.stage('plot-antennas-iq')),
    rescan: false,
  },
  'rsync-to-campus': {body: (context, layout) => rsyncToCampus(context, layout.stage('rsync-to-campus')), rescan: true},
  'transfer-cam-photos': {body: (context, layout) => transferCamPhotos(context, layout.stage('transfer-cam-photos')), rescan: true},
  'convert-on-campus': {
    body: async (context, layout) => (await import('../lib/stages/convert-on-campus.js')).convertOnCampus(context, layout.stage('convert-on-campus')),
    rescan: true,
  },
  'distribute-borealis-data': {body: (context, layout) => distributeBorealisData(context, layout.stage('distribute-borealis-data')), rescan: true},
  'archive-iq-plots': {body: (context, layout) => archiveIqPlots(context, layout.stage('archive-iq-plots')), rescan: true},
}

/** Runs one stage of a resolved layout through runStage (lock, logs, summary, telemetry, alerts). */
export function runLayoutStage(
  id: StageId,
  layout: RoleLayout,
  options: Omit<StageOptions, 'runtime'>,
  inputs: StageInputs = {},
  body: StageBody = STAGE_REGISTRY[id].body,
): Promise<StageOutcome & StageResult> {
  return runStage(STAGES[id], {...options, runtime: layout.runtime}, (context) => body(context, layout, inputs))
}
