import {Args} from '@oclif/core'

import {checkTimestamps, type TimestampResult} from '../../lib/formats/name-commands.js'
import {BaseCommand} from '../base.js'

export default class NamesCheckTimestamp extends BaseCommand<typeof NamesCheckTimestamp> {
  static override summary = 'Check that the UTC time in each file name is within one day of its modification time'
  static override description =
    'The original check_timestamp. Files failing it are routed to the failure directory by rsync-to-nas. Exit 3 when any file fails.'
  static override enableJsonFlag = true
  static override strict = false
  static override args = {file: Args.string({required: true, description: 'data file(s)'})}

  async run(): Promise<TimestampResult[]> {
    const results = await checkTimestamps(this.positionals)
    for (const r of results) {
      if (r.error) this.logToStderr(`dataflow: ${r.error}`)
      else this.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.file} (name ${r.nominal}, mtime ${r.mtime}, skew ${r.skewSeconds} s)`)
    }
    return results
  }
}
