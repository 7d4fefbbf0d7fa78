import {StageCommand} from './stage-command.js'

export default class TransferCamPhotos extends StageCommand<typeof TransferCamPhotos> {
  static override summary = 'Site-linux: send camera photos to campus <rad>cam/<rad>camN/YYYY/MM/, verified, mode 664'

  async run() {
    return this.runStageCommand('transfer-cam-photos')
  }
}
