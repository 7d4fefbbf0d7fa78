// Composition of the three host roles (docs/design.md#host-roles-and-their-stages): which trigger
// runs which stages in which order, and which flag goes to which host afterwards. Pure data: the
// daemon reads it; no I/O here.
import type {Role} from '../lib/config/schema.js'
import type {StageId} from '../lib/stages/specs.js'

export interface RoleSpec {
  role: Role
  /** The original's service account. */
  defaultUser: string
  /** What starts a run. */
  trigger: 'new-borealis-file' | 'borealis-flag' | 'site-linux-flag'
  /** Stages in order; each runs even when an earlier one failed (failures are alerted). */
  stages: readonly StageId[]
  /** Flag file sent to the next host when the stages are done (null: none). */
  flagForNextHost: ((radar: string) => string) | null
  /** Flag file this role reacts to (moved into its watch directory). */
  incomingFlag: ((radar: string) => string) | null
}

export const ROLE_SPECS: Readonly<Record<Role, RoleSpec>> = {
  borealis: {
    role: 'borealis',
    defaultUser: 'radar',
    trigger: 'new-borealis-file',
    stages: ['rsync-to-nas'],
    flagForNextHost: () => '.borealis_flag',
    incomingFlag: null,
  },
  'site-linux': {
    role: 'site-linux',
    defaultUser: 'transfer',
    trigger: 'borealis-flag',
    stages: ['plot-antennas-iq', 'rsync-to-campus', 'transfer-cam-photos'],
    flagForNextHost: (radar) => `.site-linux_flag_${radar}`,
    incomingFlag: () => '.borealis_flag',
  },
  campus: {
    role: 'campus',
    defaultUser: 'dataman',
    trigger: 'site-linux-flag',
    stages: ['convert-on-campus', 'distribute-borealis-data', 'archive-iq-plots'],
    // The original's `.campus_dataflow_flag_<rad>` had no consumer: not sent
    // (docs/design.md#campus-flag-no-consumer).
    flagForNextHost: null,
    incomingFlag: (radar) => `.site-linux_flag_${radar}`,
  },
}
