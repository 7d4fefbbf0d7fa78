import {Args, Flags} from '@oclif/core'

import {EXIT, UsageError} from '../../lib/errors.js'
import {dumpDmapJson, dumpDmapListing, parseRecordRange, type RecordRange} from '../../lib/formats/dmap/dump.js'
import {BaseCommand} from '../base.js'

/** Awaited writes to stdout, so a large dump keeps to the pipe's pace. */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())))
}

export default class DmapDump extends BaseCommand<typeof DmapDump> {
  static override summary = 'Print the records of a DMAP file (plain or bzip2)'
  static override description = [
    'A listing for people, or with --json every field of every record in the shape of the reference',
    'dumps (test/fixtures/*.json): {"records": [{field: {"type", "value"[, "shape"]}}]}, shape row-major.',
    'Strict reading by default; --lax prints the intact leading records and reports where the damage',
    'starts (exit 3).',
  ].join('\n')
  static override enableJsonFlag = true
  static override args = {file: Args.string({required: true, description: 'DMAP file'})}
  static override flags = {
    records: Flags.string({description: 'only these records: a..b, a.., ..b or a (0-based, inclusive)'}),
    lax: Flags.boolean({description: 'read leniently: stop at the first damaged record instead of failing', default: false}),
  }
  static override examples = ['<%= config.bin %> dmap dump test.rawacf --records 0..0', '<%= config.bin %> dmap dump test.rawacf.bz2 --json']

  async run(): Promise<void> {
    let range: RecordRange | undefined
    try {
      range = this.flags.records === undefined ? undefined : parseRecordRange(this.flags.records)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const options = {range, mode: this.flags.lax ? ('lax' as const) : ('strict' as const), readerVersion: this.config.version}
    const summary = this.jsonEnabled()
      ? await dumpDmapJson(this.args.file, writeStdout, options)
      : await dumpDmapListing(this.args.file, writeStdout, options)
    if (summary.damage) {
      if (!this.jsonEnabled()) {
        this.logToStderr(`dataflow: ${this.args.file}: damaged from byte ${summary.damage.offset} (record ${summary.damage.index}): ${summary.damage.reason}`)
      }
      process.exitCode = EXIT.PARTIAL
    }
  }
}
