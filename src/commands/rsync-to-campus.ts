import {StageCommand} from './stage-command.js'

export default class RsyncToCampus extends StageCommand<typeof RsyncToCampus> {
  static override summary = 'Site-linux: send DMAP files, HDF5 rawacf files and IQ plots to campus over one ssh connection, verified'
  static override description =
    'rawacf_dmap/*.rawacf.bz2 → campus.dataDirectory, rawacf_array/*.rawacf.h5 → campus.holdingDirectory, ' +
    'site.plotDirectory/*.jpg|png → campus.plotsDirectory. Each source is deleted only after its copy verified on campus; a misnamed file goes to site.quarantineDirectory.'

  async run() {
    return this.runStageCommand('rsync-to-campus')
  }
}
