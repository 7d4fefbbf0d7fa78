// The stages of the data flow, and the names the original gave their logs. The summary-log
// layout and names are a contract with the telemetry parser (parse_dataflow_log.py on campus).
import type {Role} from '../config/schema.js'

export interface StageSpec {
  /** Subcommand id, e.g. rsync-to-nas. */
  id: string
  /** The original script name: summary phrases, log and telemetry directory names. */
  script: string
  role: Role
  /** Campus stages run per radar and prefix their log file names with `<rad>.`. */
  perRadarFileNames: boolean
  /** Log directory under logging.directory (default: script). */
  logDir?: string
  /** Summary file suffix before `.log` (archive_iq has none). */
  summarySuffix: '_summary' | ''
  /** Version lines in the header: data_flow (and pyDARNio for campus conversion stages). */
  versionLines: ReadonlyArray<'data_flow' | 'pyDARNio'>
  /** Whether the summary is pushed to the telemetry host after each run. */
  telemetry: boolean
  /** Whether the summary ends with the `Finished …` footer. */
  footer: boolean
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
