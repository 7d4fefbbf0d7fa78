import {StageCommand} from './stage-command.js'

export default class ConvertOnCampus extends StageCommand<typeof ConvertOnCampus> {
  static override summary = 'Campus: convert the radar\'s Borealis rawacf HDF5 files to DMAP and move both to the data directory'
  static override description =
    'Converts every *.rawacf.h5 directly in campus.holdingDirectory to ….rawacf.bz2, then moves the DMAP and the HDF5 ' +
    'file to campus.dataDirectory (verified moves). A file that cannot be converted goes to ' +
    'campus.conversionFailureDirectory with a <name>.reason file and one alert; a move that fails keeps both files in ' +
    'the holding directory for the next run. *.rawacf.bz2 files already converted on site are moved through. Exit 3 ' +
    'when any file failed.'

  async run() {
    return this.runStageCommand('convert-on-campus')
  }
}
