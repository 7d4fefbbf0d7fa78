import {transferCamPhotos} from '../lib/stages/transfer-cam-photos.js'
import {StageCommand} from './stage-command.js'

export default class TransferCamPhotos extends StageCommand<typeof TransferCamPhotos> {
  static override summary = 'Site-linux: send camera photos to campus <rad>cam/<rad>camN/YYYY/MM/, verified, mode 664'

  async run() {
    return this.runStageCommand('transfer-cam-photos', (context) => transferCamPhotos(context))
  }
}
