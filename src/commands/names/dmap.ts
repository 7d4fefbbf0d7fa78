import {Args} from '@oclif/core'

import {borealisToDmapName} from '../../lib/formats/names.js'
import {mapNames, type NameMapping} from '../../lib/formats/name-commands.js'
import {BaseCommand} from '../base.js'

export default class NamesDmap extends BaseCommand<typeof NamesDmap> {
  static override summary = 'Print the DMAP name of Borealis rawacf files (….<slice>.rawacf.h5 → ….<letter>.rawacf.bz2)'
  static override enableJsonFlag = true
  static override strict = false
  static override args = {file: Args.string({required: true, description: 'Borealis rawacf file name(s)'})}
  static override examples = ['<%= config.bin %> names dmap 20231004.1400.00.pgr.1.rawacf.h5']

  async run(): Promise<NameMapping[]> {
    const results = mapNames(this.positionals, borealisToDmapName)
    for (const r of results) {
      if (r.error) this.logToStderr(`dataflow: ${r.error}`)
      else this.log(r.output)
    }
    return results
  }
}
