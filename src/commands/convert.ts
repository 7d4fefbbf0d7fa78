import {Args, Flags} from '@oclif/core'

import {EXIT} from '../lib/errors.js'
import type {FileOutcome} from '../lib/formats/convert/file.js'
import {BaseCommand} from './base.js'

export interface ConvertSummary {
  succeeded: number
  failed: number
  files: FileOutcome[]
}

export default class Convert extends BaseCommand<typeof Convert> {
  static override summary = 'Convert Borealis rawacf HDF5 files to DMAP rawacf (….<slice>.rawacf.h5 → ….<letter>.rawacf.bz2)'
  static override description =
    'The original campus/borealis_to_dmap.py (with its inverted type check fixed), byte-identical to pyDARNio. ' +
    'Each output goes next to its input (or into --output-dir) and appears only when complete. An existing ' +
    'output is left alone unless --force. Exit 3 when any file failed; each failure is one line naming the file.'
  static override enableJsonFlag = true
  static override strict = false
  static override args = {file: Args.string({required: true, description: 'Borealis rawacf HDF5 file(s)'})}
  static override flags = {
    'output-dir': Flags.string({description: 'write the DMAP files here instead of next to each input'}),
    compress: Flags.boolean({default: true, allowNo: true, description: 'bzip2 the output (--no-compress writes ….rawacf)'}),
    jobs: Flags.integer({default: 1, min: 1, description: 'files converted at once'}),
    force: Flags.boolean({description: 'replace existing output files'}),
    'dry-run': Flags.boolean({description: 'print the output names, convert nothing'}),
  }
  static override examples = [
    '<%= config.bin %> convert 20231004.1400.00.pgr.1.rawacf.h5',
    '<%= config.bin %> convert --no-compress --output-dir /tmp/dmap /sddata/sas_holding_dir/*.rawacf.h5',
  ]

  async run(): Promise<ConvertSummary> {
    const {convertRawacfFiles} = await import('../lib/formats/convert/file.js')
    const json = this.jsonEnabled()
    const progress = !json && process.stderr.isTTY && this.positionals.length > 1
    const files = await convertRawacfFiles(this.positionals, {
      outputDir: this.flags['output-dir'],
      compress: this.flags.compress,
      jobs: this.flags.jobs,
      overwrite: this.flags.force,
      dryRun: this.flags['dry-run'],
      onProgress: (done, total, outcome) => {
        if (progress) process.stderr.write(`\r\x1b[K[${done}/${total}] ${outcome.ok ? 'ok' : 'FAILED'} ${outcome.input}${done === total ? '\n' : ''}`)
        if (json) return
        if (!outcome.ok) {
          if (progress) process.stderr.write('\n')
          this.logToStderr(`dataflow: ${outcome.error}`)
        } else if (this.flags['dry-run']) {
          this.log(`${outcome.input} → ${outcome.output}`)
        } else if (!progress) {
          this.log(`Wrote dmap to : ${outcome.output} (${outcome.dmapRecords} records, ${outcome.seconds!.toFixed(2)} s)`)
        }
      },
    })
    const failed = files.filter((f) => !f.ok).length
    if (failed > 0) process.exitCode = EXIT.PARTIAL
    return {succeeded: files.length - failed, failed, files}
  }
}
