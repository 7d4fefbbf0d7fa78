import YAML from 'yaml'

import {maskSecrets} from '../../lib/config/load.js'
import {BaseCommand} from '../base.js'

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override summary = 'Print the effective configuration (defaults, file and environment merged; secrets masked)'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --json --config ./site.yaml']

  async run(): Promise<{source: string | null; config: unknown}> {
    const {config, source} = this.loadConfig()
    const masked = maskSecrets(config)
    this.log(`# source: ${source ?? 'built-in defaults (no config file)'}`)
    this.log(YAML.stringify(masked, {lineWidth: 0}).trimEnd())
    return {source, config: masked}
  }
}
