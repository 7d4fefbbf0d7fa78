// npm run torture — the crash and fault suite with the no-loss invariant (test/torture/).
//
//   npm run torture                          full run: 200 SIGKILLs over the 5 stage variants,
//                                            every fault scenario, hostile names for every stage
//   npm run torture -- --trials 40 --seed 7 --stage rsync-to-campus,convert-on-campus
//   npm run torture -- --short               what `npm test` runs (test/torture.integration.test.ts)
//
// Options: --trials N (SIGKILLs in all; a trial whose stage ended before its instant is replaced), --seed S (default: random, printed), --stage X[,Y]
// (rsync-to-nas, rsync-to-nas-ssh, rsync-to-campus, convert-on-campus, distribute-borealis-data;
// faults and hostile names follow the stage filter), --fault ID[,ID], --no-faults, --no-hostile,
// --jobs J (default 3: stages wait on fsync and ssh, 3 keep 2 cores busy), --short, --keep (keep the sandbox). One line per trial, then
// `trials=N lost=… corrupt=… partial_visible=… deleted_unverified=…`; exit 1 when any of those is
// non-zero, or a good file was not delivered after the re-run, or a fault went unnoticed.
// Runs as root: mount namespaces, chattr +i and the stage run as nobody need it.
import {parseArgs} from 'node:util'
import {$} from 'zx'

import {REPO} from '../test/helpers/cli.js'
import {FAULTS} from '../test/torture/faults.js'
import {runSuite} from '../test/torture/trials.js'
import {STAGE_KINDS, type StageKind} from '../test/torture/world.js'
import {SHORT} from '../test/torture/short.js'

const {values} = parseArgs({
  options: {
    trials: {type: 'string'},
    seed: {type: 'string'},
    stage: {type: 'string'},
    fault: {type: 'string'},
    'no-faults': {type: 'boolean'},
    'no-hostile': {type: 'boolean'},
    jobs: {type: 'string', default: '3'},
    short: {type: 'boolean'},
    keep: {type: 'boolean'},
  },
})

function fail(message: string): never {
  console.error(`torture: ${message}`)
  process.exit(2)
}

if (process.getuid?.() !== 0) fail('run it as root: the fault scenarios mount tmpfs in a mount namespace, use chattr +i and run a stage as nobody')
const stages = (values.stage?.split(',') ?? [...STAGE_KINDS]) as StageKind[]
for (const stage of stages) if (!STAGE_KINDS.includes(stage)) fail(`unknown stage ${stage} (known: ${STAGE_KINDS.join(', ')})`)
const wanted = values.fault?.split(',') ?? Object.keys(FAULTS)
for (const id of wanted) if (!FAULTS[id]) fail(`unknown fault ${id} (known: ${Object.keys(FAULTS).join(', ')})`)
const faults = values['no-faults'] ? [] : wanted.filter((id) => stages.includes(FAULTS[id]!.stage))
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
if (!Number.isInteger(seed)) fail(`--seed must be an integer (got ${values.seed})`)
const trials = Number(values.trials ?? (values.short ? SHORT.killTrials : 200))
if (!Number.isInteger(trials) || trials < 0) fail(`--trials must be a whole number (got ${values.trials})`)

// What was tested, in one line: zx reads better than spawnSync for these three.
const [commit, rsync, ssh] = await Promise.all([
  $({nothrow: true, cwd: REPO})`git rev-parse --short HEAD`,
  $({nothrow: true})`rsync --version`,
  $({nothrow: true})`ssh -V`,
])
console.log(`torture: dataflow ${commit.stdout.trim() || '(no git)'}, ${rsync.stdout.split('\n')[0]?.trim()}, ${ssh.stderr.trim()}`)

const result = await runSuite({
  seed,
  killTrials: trials,
  stages,
  faults: values.short && values.fault === undefined ? faults.filter((id) => SHORT.faults.includes(id)) : faults,
  hostile: !values['no-hostile'],
  hostileStages: values.short ? SHORT.hostileStages.filter((s) => stages.includes(s)) : stages,
  jobs: Number(values.jobs),
  keep: values.keep,
  log: (line) => console.log(line),
})
process.exit(result.ok ? 0 : 1)
