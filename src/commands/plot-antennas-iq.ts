import {Flags} from '@oclif/core'

import {UsageError} from '../lib/errors.js'
import {StageCommand, stageFlags} from './stage-command.js'

export default class PlotAntennasIq extends StageCommand<typeof PlotAntennasIq> {
  static override summary = 'Site-linux: plot the last two hours of slice-0 antennas_iq files into site.plotDirectory (1000 px JPEG per antenna)'
  static override description =
    'Finds slice-0 antennas_iq files named within the UTC hours of now−2 h and now−1 h in antennas_iq_array/ and ' +
    'conversion_failure/ of the site data root (the NAS, or the site-linux data root for sites not in nasSites) and ' +
    'plots antennas 0–19, 30–80 dB, samples 0–70, as <first six name fields>.antenna_<N>_0_70.jpg. Each image ' +
    'appears complete or not at all. Failures are alerted; exit 3 when any file failed.'
  static override flags = {
    ...stageFlags,
    at: Flags.string({description: 'plot the window ending at this UTC time instead of now, e.g. 2023-10-04T16:05:00Z'}),
  }

  async run() {
    const at = this.flags.at === undefined ? undefined : new Date(this.flags.at)
    if (at && Number.isNaN(at.getTime())) throw new UsageError(`--at "${this.flags.at}": not a date and time (e.g. 2023-10-04T16:05:00Z)`)
    const {plotAntennasIq} = await import('../lib/stages/plot-antennas-iq.js')
    return this.runStageCommand('plot-antennas-iq', {}, (context, layout) => plotAntennasIq(context, layout.stage('plot-antennas-iq'), {at}))
  }
}
