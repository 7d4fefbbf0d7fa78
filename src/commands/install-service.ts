import {Flags} from '@oclif/core'

import {configFilePath} from '../lib/config/load.js'
import {ROLES, type Role} from '../lib/config/schema.js'
import {
  DEFAULT_SERVICE_USER,
  enableHint,
  missingDirectories,
  resolveServiceBinary,
  serviceUserHome,
  type WrittenUnit,
  writeUnitFiles,
} from '../lib/systemd/units.js'
import {serviceUnitForRole} from '../roles/paths.js'
import {BaseCommand} from './base.js'

export default class InstallService extends BaseCommand<typeof InstallService> {
  static override summary = 'Generate the hardened systemd unit that runs the daemon of a host role'
  static override description = [
    'borealis → dataflow-borealis.service, site-linux → dataflow-site-linux.service, campus → the template',
    'dataflow-campus@.service (one instance per radar). ReadWritePaths= lists the directories the role writes,',
    'from the config as it is now: regenerate the unit after changing them. Without --output-dir the unit is',
    'printed; nothing is enabled or started.',
  ].join(' ')
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> install-service --role borealis --output-dir /etc/systemd/system',
    '<%= config.bin %> install-service --role campus --radar sas --binary /usr/local/bin/dataflow --output-dir /etc/systemd/system',
  ]
  static override flags = {
    role: Flags.string({options: [...ROLES], required: true, description: 'host role the unit runs'}),
    radar: Flags.string({description: 'radar id (campus: only for the enable hint, the unit is a template)'}),
    user: Flags.string({description: 'account the service runs as (default: radar, transfer or dataman by role)'}),
    'output-dir': Flags.string({description: 'write the unit file here (e.g. /etc/systemd/system), replacing an older one'}),
    binary: Flags.string({description: 'absolute path of the dataflow executable (default: this executable)'}),
    'dry-run': Flags.boolean({description: 'print what would be written, write nothing'}),
  }

  async run(): Promise<{units: WrittenUnit[]; hint: string | null; missingDirectories: string[]}> {
    const {flags} = this
    const role = flags.role as Role
    const user = flags.user ?? DEFAULT_SERVICE_USER[role]
    const {config, source} = this.loadConfig()
    const configFile = configFilePath({file: flags.config}).path
    const {unit, directories} = serviceUnitForRole(config, {
      role,
      radar: flags.radar,
      user,
      home: await serviceUserHome(user),
      binaryPath: await resolveServiceBinary(flags.binary),
      configFile,
    })
    const dryRun = flags['dry-run']
    const units = await writeUnitFiles([unit], {outputDir: flags['output-dir'], dryRun})
    const hint = enableHint(role, flags.radar)
    const missing = await missingDirectories(directories)

    if (source === null) {
      this.logToStderr(`note: ${configFile} does not exist: the service will not start until it does (dataflow config init)`)
    }
    for (const written of units) {
      if (written.path === undefined || dryRun) {
        if (written.path !== undefined) this.logToStderr(`would write ${written.path}`)
        if (!this.jsonEnabled()) process.stdout.write(written.text)
      } else {
        this.log(written.path)
      }
    }
    if (missing.length > 0) {
      this.logToStderr(`note: the service cannot create its missing directories; create them, writable by ${user}, first:`)
      for (const dir of missing) this.logToStderr(`  ${dir}`)
    }
    this.logToStderr(`to start it: ${hint ?? 'systemctl enable --now dataflow-campus@<radar>.service (one per radar)'}`)
    return {units, hint, missingDirectories: missing}
  }
}
