// The shape every stage command shares: load the config, resolve the role layout for the radar,
// run the stage through runStage (lock, logs, summary, telemetry, alerts), print one line per
// file, exit 3 when some files failed. The daemon runs the same functions with the same layout.
import {type Command, Flags} from '@oclif/core'

import {requireRadar} from '../lib/config/index.js'
import {EXIT} from '../lib/errors.js'
import type {StageResult} from '../lib/stages/runner.js'
import {STAGES, type StageId} from '../lib/stages/specs.js'
import {layoutForStage} from '../roles/layout.js'
import {runLayoutStage, STAGE_REGISTRY, type StageInputs, type StageOutcome} from '../roles/stages.js'
import {BaseCommand} from './base.js'

export const stageFlags = {
  radar: Flags.string({description: 'radar id (default: the config radar key)'}),
  'dry-run': Flags.boolean({description: 'print the plan, change nothing'}),
}

interface FileLine {
  outcome: string
  source?: string
  file?: string
  sent?: string
  destination?: string
  destinations?: string[]
  backup?: string | null
  reason?: string
}

export abstract class StageCommand<T extends typeof Command> extends BaseCommand<T> {
  static override enableJsonFlag = true
  static override flags = stageFlags

  protected async runStageCommand(stage: StageId, inputs: StageInputs = {}, body = STAGE_REGISTRY[stage].body): Promise<StageOutcome & StageResult> {
    const flags = this.flags as {radar?: string; 'dry-run'?: boolean}
    const {config} = this.loadConfig()
    const radar = requireRadar(config, flags.radar)
    const layout = layoutForStage(config, stage, STAGES[stage].role, radar)
    const json = this.jsonEnabled()
    const result = await runLayoutStage(stage, layout, {dryRun: flags['dry-run'] ?? false, terminalFd: json ? 2 : 1}, inputs, body)
    if (!json) {
      for (const f of result.files as readonly FileLine[]) {
        const from = f.sent ?? f.source ?? f.file ?? ''
        const to = f.destination ?? (f.destinations?.length ? f.destinations.join(', ') : undefined)
        this.log(`${f.outcome.padEnd(11)} ${from}${to ? ` → ${to}` : ''}${f.backup ? ` (+ ${f.backup})` : ''}${f.reason ? `: ${f.reason}` : ''}`)
      }
      if (result.files.length === 0) this.log('nothing to do')
    }
    if (result.failed > 0) process.exitCode = EXIT.PARTIAL
    return result
  }
}
