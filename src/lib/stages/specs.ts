// The stages of the data flow, and the names the original gave their logs. The summary-log
// layout and names are a contract with the telemetry parser (parse_dataflow_log.py on campus).
import type {Role} from '../config/schema.js'
import type {SummaryStage} from '../log/summary.js'

/** A stage: its subcommand, its role, and the summary-log names (SummaryStage). */
export interface StageSpec extends SummaryStage {
  /** Subcommand id, e.g. rsync-to-nas. */
  id: string
  role: Role
  /** Whether the summary is pushed to the telemetry host after each run. */
  telemetry: boolean
}

const spec = (s: Omit<StageSpec, 'summarySuffix' | 'versionLines' | 'telemetry' | 'footer' | 'perRadarFileNames'> & Partial<StageSpec>): StageSpec => ({
  summarySuffix: '_summary',
  versionLines: ['data_flow'],
  telemetry: true,
  footer: true,
  perRadarFileNames: s.role === 'campus',
  ...s,
})

export const STAGES = {
  'rsync-to-nas': spec({id: 'rsync-to-nas', script: 'rsync_to_nas', role: 'borealis'}),
  'plot-antennas-iq': spec({id: 'plot-antennas-iq', script: 'plot_antennas_iq', role: 'site-linux'}),
  'rsync-to-campus': spec({id: 'rsync-to-campus', script: 'rsync_to_campus', role: 'site-linux'}),
  // The original sent neither of these to telemetry; we do
  // (docs/design.md#stages-missing-from-telemetry).
  'transfer-cam-photos': spec({id: 'transfer-cam-photos', script: 'transfer_cam_photos', role: 'site-linux'}),
  'convert-on-campus': spec({id: 'convert-on-campus', script: 'convert_on_campus', role: 'campus', versionLines: ['data_flow', 'pyDARNio']}),
  'distribute-borealis-data': spec({
    id: 'distribute-borealis-data',
    script: 'distribute_borealis_data',
    role: 'campus',
    versionLines: ['data_flow', 'pyDARNio'],
  }),
  'archive-iq-plots': spec({id: 'archive-iq-plots', script: 'archive_iq_plots', role: 'campus', logDir: 'archive_iq', summarySuffix: ''}),
} as const satisfies Record<string, StageSpec>

export type StageId = keyof typeof STAGES
