import {BaseCommand} from '../base.js'

export default class ConfigValidate extends BaseCommand<typeof ConfigValidate> {
  static override summary = 'Check the configuration; exit 2 listing every problem with its key path'
  static override enableJsonFlag = true

  async run(): Promise<{valid: true; source: string | null}> {
    const {source} = this.loadConfig()
    this.log(`configuration is valid (${source ?? 'built-in defaults'})`)
    return {valid: true, source}
  }
}
