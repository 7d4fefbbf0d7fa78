import {Args} from '@oclif/core'

import {checkDmapIntegrity, type DmapIntegrity} from '../../lib/formats/dmap/check.js'
import {BaseCommand} from '../base.js'

export default class DmapCheck extends BaseCommand<typeof DmapCheck> {
  static override summary = 'Check a DMAP rawacf file strictly and print the CPID of its first record'
  static override description = [
    'The original test_dmap_integrity.py: every record is read with darn-dmap strict rules and checked',
    'against the rawacf format (plain or bzip2, detected by content). On success prints the `cp` of the',
    'first record; otherwise prints nothing on stdout, one line naming the file on stderr, and exits 3.',
  ].join('\n')
  static override enableJsonFlag = true
  static override args = {file: Args.string({required: true, description: 'DMAP rawacf file (.rawacf or .rawacf.bz2)'})}
  static override examples = ['<%= config.bin %> dmap check 20231004.1400.00.sas.a.rawacf.bz2']

  async run(): Promise<DmapIntegrity> {
    const result = await checkDmapIntegrity(this.args.file)
    if (!this.jsonEnabled()) this.log(String(result.cp))
    return result
  }
}
