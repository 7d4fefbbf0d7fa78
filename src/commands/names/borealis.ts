import {Args} from '@oclif/core'

import {dmapToBorealisName} from '../../lib/formats/names.js'
import {mapNames, type NameMapping} from '../../lib/formats/name-commands.js'
import {BaseCommand} from '../base.js'

export default class NamesBorealis extends BaseCommand<typeof NamesBorealis> {
  static override summary = 'Print the Borealis HDF5 name of DMAP rawacf files (….<letter>.rawacf[.bz2] → ….<slice>.rawacf.h5)'
  static override enableJsonFlag = true
  static override strict = false
  static override args = {file: Args.string({required: true, description: 'DMAP rawacf file name(s)'})}
  static override examples = ['<%= config.bin %> names borealis 20231004.1400.00.pgr.b.rawacf.bz2']

  async run(): Promise<NameMapping[]> {
    const results = mapNames(this.positionals, dmapToBorealisName)
    for (const r of results) {
      if (r.error) this.logToStderr(`dataflow: ${r.error}`)
      else this.log(r.output)
    }
    return results
  }
}
