import {Args} from '@oclif/core'

import {StageCommand} from './stage-command.js'

export default class RsyncToNas extends StageCommand<typeof RsyncToNas> {
  static override summary = 'Borealis host: move finished data files to the site NAS (or site-linux), verified, then delete the sources'
  static override description =
    'Routes .rawacf (bzip2 first) and .rawacf.bz2 to rawacf_dmap/, .rawacf.h5 to rawacf_array/, .antennas_iq.h5 to ' +
    'antennas_iq_array/, anything else and files failing the name-vs-mtime check to conversion_failure/; rawacf files ' +
    'also get a verified backup/ copy at NAS sites. A source is deleted only when every copy verified.'
  static override args = {
    trigger: Args.string({description: 'the new file that triggered the run: its whole 2-hour block is skipped'}),
  }

  async run() {
    return this.runStageCommand('rsync-to-nas', {trigger: this.args.trigger})
  }
}
