// The daemon of a role, as data: what src/lib/daemon runs, built from the resolved role layout.
// The daemon itself imports no stage and no role; this is where the two meet.
import type {DaemonPlan} from '../lib/daemon/daemon.js'
import type {RoleLayout} from './layout.js'
import {runLayoutStage, STAGE_REGISTRY} from './stages.js'

export function daemonPlan(layout: RoleLayout): DaemonPlan {
  const {runtime, definition} = layout
  return {
    name: layout.role,
    radar: layout.radar,
    stages: definition.stages.map((id) => ({
      id,
      rescan: STAGE_REGISTRY[id].rescan,
      run: (mode, trigger) => runLayoutStage(id, layout, mode, {trigger}),
    })),
    watch: layout.watch,
    fileTrigger: layout.settleFollowUpMs === null ? null : {settleFollowUpMs: layout.settleFollowUpMs},
    incoming: layout.incoming,
    outgoing: layout.outgoing,
    flagSettings: layout.flagSettings,
    logFile: layout.daemonLog,
    logLevel: runtime.logLevel,
    stateDirectory: runtime.stateDirectory,
    alerts: runtime.alerts,
    rescanIntervalMs: layout.rescanIntervalMs,
    staleTemps: layout.staleTemps,
  }
}
