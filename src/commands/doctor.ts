import {Flags} from '@oclif/core'

import {requireRadar} from '../lib/config/index.js'
import {ROLES, type Role} from '../lib/config/schema.js'
import {EXIT} from '../lib/errors.js'
import {BaseCommand} from './base.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary = 'Check that this host can run dataflow: image text, HDF5, inotify, external tools, config'
  static override description =
    'Runs each check for real (renders text with the bundled font, writes and re-reads an HDF5 file, waits for an ' +
    'inotify event). Exits 5 when a required check fails; a missing lbzip2 is only a warning.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --role campus --radar sas --json']
  static override flags = {
    role: Flags.string({options: [...ROLES], description: 'also check that every directory this role writes exists and is writable'}),
    radar: Flags.string({description: 'radar id for --role (default: the config radar key)'}),
  }

  async run(): Promise<unknown> {
    // Imported here, not at the top: every command module is evaluated on each start.
    const {DoctorFailedError, formatDoctorReport, runDoctor} = await import('../roles/doctor.js')
    const loadConfig = () => this.loadConfig()
    const role = this.flags.role === undefined ? undefined : {role: this.flags.role as Role, radar: requireRadar(loadConfig().config, this.flags.radar)}
    const checks = await runDoctor({loadConfig, role})
    const failed = checks.filter((check) => check.status === 'fail')
    if (!this.jsonEnabled()) this.log(formatDoctorReport(checks))
    if (failed.length > 0) {
      // With --json, stdout stays one document (the checks) and only the exit code reports failure.
      if (this.jsonEnabled()) process.exitCode = EXIT.UNREACHABLE
      else throw new DoctorFailedError(failed)
    }
    return checks
  }
}
