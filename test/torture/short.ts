// The short version of the torture suite, run by `npm test` (test/torture.integration.test.ts) and
// by `npm run torture -- --short`: ≈20 trials — one clean calibration run and one SIGKILL trial per
// stage, the cheap fault scenarios (all but the slow convert one and the second "missing"), hostile
// names for two stages.
import type {StageKind} from './world.js'

export const SHORT = {
  killTrials: 5,
  faults: [
    'full:rsync-to-nas',
    'full:distribute-borealis-data',
    'readonly:rsync-to-nas',
    'missing:rsync-to-nas',
    'denied:rsync-to-nas',
    'denied:rsync-to-campus',
    'sshd-stopped:rsync-to-campus',
    'no-rsync:rsync-to-campus',
  ],
  hostileStages: ['rsync-to-nas', 'distribute-borealis-data'] as StageKind[],
}
