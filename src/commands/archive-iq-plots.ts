import {StageCommand} from './stage-command.js'

export default class ArchiveIqPlots extends StageCommand<typeof ArchiveIqPlots> {
  static override summary = 'Campus: move antennas_iq plots older than 24 h (UTC time in the name) to archive/YYYY/MM/'

  async run() {
    return this.runStageCommand('archive-iq-plots')
  }
}
