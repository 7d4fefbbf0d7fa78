import {Flags} from '@oclif/core'

import {requireRadar} from '../lib/config/index.js'
import {EXIT} from '../lib/errors.js'
import type {ConvertOnCampusResult} from '../lib/stages/convert-on-campus.js'
import {runStage, type StageResult} from '../lib/stages/runner.js'
import {STAGES} from '../lib/stages/specs.js'
import {BaseCommand} from './base.js'

export default class ConvertOnCampus extends BaseCommand<typeof ConvertOnCampus> {
  static override summary = 'Campus: convert the radar\'s Borealis rawacf HDF5 files to DMAP and move both to the data directory'
  static override description =
    'Converts every *.rawacf.h5 directly in campus.holdingDirectory to ….rawacf.bz2, then moves the DMAP and the HDF5 ' +
    'file to campus.dataDirectory (verified moves). A file that fails goes to campus.conversionFailureDirectory with ' +
    'a <name>.reason file and one alert. *.rawacf.bz2 files already converted on site are moved through. Exit 3 when ' +
    'any file failed.'
  static override enableJsonFlag = true
  static override flags = {
    radar: Flags.string({description: 'radar id (default: the config radar key)'}),
    'dry-run': Flags.boolean({description: 'print the plan, change nothing'}),
  }

  async run(): Promise<ConvertOnCampusResult & StageResult> {
    const {config} = this.loadConfig()
    const radar = requireRadar(config, this.flags.radar)
    const json = this.jsonEnabled()
    const {convertOnCampus} = await import('../lib/stages/convert-on-campus.js')
    const result = await runStage(STAGES['convert-on-campus'], {config, radar, dryRun: this.flags['dry-run'], terminalFd: json ? 2 : 1}, (context) =>
      convertOnCampus(context),
    )
    if (!json) {
      for (const file of result.files) {
        this.log(`${file.outcome.padEnd(9)} ${file.source}${file.destinations.length ? ` → ${file.destinations.join(', ')}` : ''}${file.reason ? `: ${file.reason}` : ''}`)
      }
      if (result.files.length === 0) this.log('no files to convert or move')
    }
    if (result.failed > 0) process.exitCode = EXIT.PARTIAL
    return result
  }
}
