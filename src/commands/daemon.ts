import {Flags} from '@oclif/core'

import {requireRadar} from '../lib/config/index.js'
import {ROLES, type Role} from '../lib/config/schema.js'
import {UsageError} from '../lib/errors.js'
import {BaseCommand} from './base.js'

const seconds = (name: string) =>
  Flags.custom<number>({
    parse: async (input) => {
      const value = Number(input)
      if (!(value > 0)) throw new UsageError(`--${name} "${input}": expected a number of seconds > 0`)
      return value
    },
  })

export default class Daemon extends BaseCommand<typeof Daemon> {
  static override summary = 'Run the long-lived daemon of a host role: watch, run the role\'s stages, send the flag to the next host'
  static override description = [
    'borealis: new *.h5/*.rawacf files in the Borealis data directory → rsync-to-nas → .borealis_flag to site-linux.',
    'site-linux: .borealis_flag → plot-antennas-iq, rsync-to-campus, transfer-cam-photos → .site-linux_flag_<rad> to campus.',
    'campus (one per radar): .site-linux_flag_<rad> → convert-on-campus, distribute-borealis-data, archive-iq-plots.',
    'Triggers during a run coalesce into one more run; every daemon.rescanIntervalMinutes the chain also runs when',
    'files are waiting. SIGTERM/SIGINT: no new work, the stage in flight may finish within --stop-grace, exit 0.',
    'SIGHUP (systemctl reload) rescans at once. A second daemon for the same role and radar exits 6. Under systemd',
    '(Type=notify) it reports readiness and liveness.',
  ].join(' ')
  static override examples = ['<%= config.bin %> daemon --role borealis', '<%= config.bin %> daemon --role campus --radar sas']
  static override flags = {
    role: Flags.string({options: [...ROLES], required: true, description: 'host role to run'}),
    radar: Flags.string({description: 'radar id (default: the config radar key; campus: one daemon per radar)'}),
    poll: Flags.boolean({description: 'poll the watched directory instead of using inotify (automatic on NFS/CIFS)'}),
    'poll-interval': seconds('poll-interval')({description: 'seconds between polls of a polled directory', default: 10}),
    'stop-grace': seconds('stop-grace')({description: 'seconds the stage in flight may continue after SIGTERM before it is aborted', default: 90}),
  }

  async run(): Promise<void> {
    const {flags} = this
    const {config} = this.loadConfig()
    const radar = requireRadar(config, flags.radar)
    // The process's one AbortController (docs/design.md#stopping): SIGTERM/SIGINT stop taking work.
    const controller = new AbortController()
    const role = flags.role as Role
    const {startDaemon} = await import('../lib/daemon/daemon.js')
    const {resolveRoleLayout} = await import('../roles/layout.js')
    const {daemonPlan} = await import('../roles/daemon-plan.js')
    const plan = daemonPlan(resolveRoleLayout(config, role, radar))
    let abortNow = () => {}
    let rescan = () => {}
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) {
        // A second signal: do not wait for the stage in flight.
        abortNow()
        return
      }
      controller.abort(signal)
    }
    // systemctl reload (ExecReload sends SIGHUP): rescan the inputs now.
    const onHangup = () => rescan()
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    process.on('SIGHUP', onHangup)
    try {
      const daemon = await startDaemon({
        plan,
        signal: controller.signal,
        stopGraceMs: flags['stop-grace'] * 1000,
        forcePoll: flags.poll,
        pollIntervalMs: flags['poll-interval'] * 1000,
      })
      abortNow = () => daemon.abortNow()
      rescan = () => void daemon.rescan()
      await daemon.done
    } finally {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      process.off('SIGHUP', onHangup)
    }
  }
}
