import {Flags} from '@oclif/core'

import {configTemplate} from '../../lib/config/init.js'
import {ROLES} from '../../lib/config/schema.js'
import {writeFileAtomic} from '../../lib/fs/atomic.js'
import {UsageError} from '../../lib/errors.js'
import {BaseCommand} from '../base.js'

export default class ConfigInit extends BaseCommand<typeof ConfigInit> {
  static override summary = 'Print a commented example config for a role, or write it to a file'
  static override examples = ['<%= config.bin %> config init --role campus --output /etc/dataflow/config.yaml']
  static override flags = {
    role: Flags.string({options: [...ROLES], required: true, description: 'host role the config is for'}),
    radar: Flags.string({description: 'radar id to put in the config (site hosts)'}),
    output: Flags.string({description: 'write to this file instead of standard output (refuses to overwrite)'}),
    force: Flags.boolean({description: 'overwrite --output if it exists'}),
    'dry-run': Flags.boolean({description: 'print what would be written, write nothing'}),
  }

  async run(): Promise<void> {
    const role = this.flags.role as (typeof ROLES)[number]
    const text = configTemplate(role, this.flags.radar)
    const output = this.flags.output
    if (!output || this.flags['dry-run']) {
      if (output) this.logToStderr(`would write ${output}`)
      process.stdout.write(text)
      return
    }
    const written = await writeFileAtomic(output, text, {mode: 0o644, overwrite: this.flags.force})
    if (!written) throw new UsageError(`${output}: already exists (use --force to overwrite)`)
    this.logToStderr(`wrote ${output}`)
  }
}
