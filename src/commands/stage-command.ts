// The shape every stage command shares: load the config, pick the radar, run the stage through
// runStage (lock, logs, summary, telemetry, alerts), print one line per file, exit 3 when some
// files failed. The daemon calls the same stage functions through runStage.
import {type Command, Flags} from '@oclif/core'

import {requireRadar} from '../lib/config/index.js'
import {EXIT} from '../lib/errors.js'
import {runStage, type StageContext, type StageResult} from '../lib/stages/runner.js'
import {STAGES, type StageId} from '../lib/stages/specs.js'
import {BaseCommand} from './base.js'

export const stageFlags = {
  radar: Flags.string({description: 'radar id (default: the config radar key)'}),
  'dry-run': Flags.boolean({description: 'print the plan, change nothing'}),
}

export interface FileLine {
  outcome: string
  source?: string
  file?: string
  sent?: string
  destination?: string
  backup?: string | null
  reason?: string
}

export abstract class StageCommand<T extends typeof Command> extends BaseCommand<T> {
  static override enableJsonFlag = true
  static override flags = stageFlags

  protected async runStageCommand<R extends {succeeded: number; failed: number; files: FileLine[]}>(
    stage: StageId,
    body: (context: StageContext) => Promise<R>,
  ): Promise<R & StageResult> {
    const flags = this.flags as {radar?: string; 'dry-run'?: boolean}
    const {config} = this.loadConfig()
    const radar = requireRadar(config, flags.radar)
    const json = this.jsonEnabled()
    const result = await runStage(STAGES[stage], {config, radar, dryRun: flags['dry-run'] ?? false, terminalFd: json ? 2 : 1}, body)
    if (!json) {
      for (const f of result.files) {
        const from = f.sent ?? f.source ?? f.file ?? ''
        this.log(`${f.outcome.padEnd(11)} ${from}${f.destination ? ` → ${f.destination}` : ''}${f.backup ? ` (+ ${f.backup})` : ''}${f.reason ? `: ${f.reason}` : ''}`)
      }
      if (result.files.length === 0) this.log('nothing to do')
    }
    if (result.failed > 0) process.exitCode = EXIT.PARTIAL
    return result
  }
}
