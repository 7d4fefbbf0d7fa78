// The one shape of a stage that handles files:
//
//   list candidates → for each file, inside its own error boundary:
//       classify → act → verify → record
//       on failure: the one quarantine helper (reason file, alert, summary line) or, for a failure
//       that a later run may not have (a host down, a file still being written), keep it in place
//   → the stage's summary and result (failed > 0: the command exits 3)
//
// A file can fail; the stage and the other files go on. A stop request (SIGTERM) is not a file's
// failure: the loop ends, nothing is quarantined or alerted, and the runner reports the stop.
import {InterruptedError, isInterruption, oneLine} from '../errors.js'
import type {StageContext} from './runner.js'
import {quarantine} from './quarantine.js'

/** One line of a stage's result per file. Outcomes are stage words ('transferred', 'converted' …) plus the shared ones. */
export interface FileRecord {
  source: string
  outcome: string
  destinations?: string[]
  reason?: string
}

/** Outcomes that count neither as done nor as failed. */
const NEUTRAL = new Set(['planned', 'kept', 'skipped'])

/** Thrown by a classify step: the file is not what the stage takes (misnamed, damaged…). */
export class Rejected extends Error {
  constructor(
    readonly reason: string,
    /** The files that go to quarantine with it (default: the candidate itself). */
    readonly files?: readonly string[],
    /** The original's summary phrase for this failure. */
    readonly summaryLine?: string,
  ) {
    super(reason)
  }
}

export interface FailurePlan {
  /** Summary lines (the original's phrases, which the telemetry parser counts). */
  summary: string[]
  /** Files to quarantine, or 'keep': the file stays for the next run (transient failure). */
  quarantine: readonly string[] | 'keep'
}

export interface PerFileStage<C> {
  /** Where this stage's quarantined files go; null: the stage never moves its inputs (all failures keep). */
  quarantineDirectory: string | null
  /** The candidate's path, for events and records. */
  path: (candidate: C) => string
  /** Classify → act → verify; returns the record. Throws Rejected (quarantine) or any error. */
  handle: (candidate: C) => Promise<FileRecord>
  /** What a failure means for this stage (default: Rejected → quarantine, others → keep). */
  onFailure?: (candidate: C, error: unknown) => FailurePlan
}

export interface PerFileResult<R extends FileRecord = FileRecord> {
  succeeded: number
  failed: number
  files: R[]
}

export function defaultFailure(path: string, error: unknown): FailurePlan {
  if (error instanceof Rejected) return {summary: error.summaryLine ? [error.summaryLine] : [], quarantine: error.files ?? [path]}
  return {summary: [], quarantine: 'keep'}
}

export async function forEachFile<C>(context: StageContext, candidates: readonly C[], stage: PerFileStage<C>): Promise<PerFileResult> {
  const {log, summary, dryRun, signal} = context
  const result: PerFileResult = {succeeded: 0, failed: 0, files: []}
  for (const candidate of candidates) {
    if (signal.aborted) throw new InterruptedError(`stopped before ${stage.path(candidate)}`)
    const path = stage.path(candidate)
    log.event('file.detected', {file: path})
    try {
      const record = await stage.handle(candidate)
      result.files.push(record)
      if (record.outcome === 'failed') result.failed++
      else if (!NEUTRAL.has(record.outcome)) result.succeeded++
    } catch (error) {
      if (isInterruption(error, signal)) throw error
      const reason = oneLine(error)
      const plan = (stage.onFailure ?? ((_c: C, e: unknown) => defaultFailure(path, e)))(candidate, error)
      for (const line of plan.summary) summary.line(line)
      if (stage.quarantineDirectory === null) plan.quarantine = 'keep'
      if (dryRun && plan.quarantine !== 'keep') {
        // A rescan's probe: a file to quarantine is work waiting.
        result.files.push({source: path, outcome: 'planned', destinations: [stage.quarantineDirectory!], reason})
        continue
      }
      result.failed++
      if (plan.quarantine === 'keep') {
        log.event('file.failed', {file: path, error: reason, action: 'kept in place for the next run'}, 'error')
        await context.alert(`${plan.summary[0] ?? path}: ${reason} (kept in place for the next run)`)
        result.files.push({source: path, outcome: 'failed', reason})
        continue
      }
      const moved = await quarantine(context, plan.quarantine, stage.quarantineDirectory!, reason, plan.summary[0])
      result.files.push({
        source: path,
        outcome: moved.kept.length === 0 ? 'quarantined' : 'failed',
        destinations: moved.moved,
        reason: moved.kept.length === 0 ? reason : `${reason}; could not be quarantined, kept in place`,
      })
    }
  }
  return result
}
