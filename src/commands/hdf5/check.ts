import {Args} from '@oclif/core'

import {EXIT} from '../../lib/errors.js'
import type {Hdf5CheckResult} from '../../lib/formats/hdf5/check.js'
import {BaseCommand} from '../base.js'

export default class Hdf5Check extends BaseCommand<typeof Hdf5Check> {
  static override summary = 'Check that an HDF5 file is complete and readable (replaces h5stat)'
  static override description =
    'Opens every group and reads every dataset whole, so truncated files and damaged compressed chunks are found. ' +
    'Exit 0 when readable; otherwise exit 3 and one line naming the file and the first broken object.'
  static override enableJsonFlag = true
  static override args = {file: Args.string({required: true, description: 'HDF5 file'})}
  static override examples = ['<%= config.bin %> hdf5 check 20231004.1400.00.sas.0.rawacf.h5']

  async run(): Promise<Hdf5CheckResult> {
    const {checkHdf5File} = await import('../../lib/formats/hdf5/check.js')
    const result = await checkHdf5File(this.args.file)
    if (!result.ok) {
      process.exitCode = EXIT.PARTIAL
      if (!this.jsonEnabled()) this.logToStderr(`dataflow: ${result.reason}`)
    } else if (!this.jsonEnabled()) {
      const what = result.borealis ? `Borealis ${result.borealis.version} ${result.borealis.type}, ${result.borealis.records} records, ` : ''
      this.log(`ok ${result.file}: ${what}${result.groups} groups, ${result.datasets} datasets, ${result.bytes} bytes of data`)
    }
    return result
  }
}
