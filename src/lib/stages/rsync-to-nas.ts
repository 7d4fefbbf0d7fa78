// Stage rsync-to-nas (borealis host): moves finished Borealis files from the radar computer to the
// site NAS (or to the site-linux computer for sites without a NAS), routed by type, with a verified
// backup copy for rawacf files. A source file is deleted only when every copy it has (backup and
// main) was re-read on the destination and its hash matched.
//
// What the original got wrong and this does not: its backup check was overwritten by the main
// check, so a bad backup went unnoticed; copies were appended in place (--append-verify) and a
// same-size different copy failed on every run forever — here a copy is re-sent once and then
// quarantined with a reason; files of the block still being written were moved; a failed bzip2
// sent a stale .bz2 from an earlier run.
import {readFileSync} from 'node:fs'
import {readdir, stat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {ConfigError, oneLine, VerifyError} from '../errors.js'
import {compressFile} from '../formats/bzip2.js'
import {blockPrefix, checkTimestamp} from '../formats/names.js'
import type {Destination} from '../transport/index.js'
import type {Transport} from '../transport/types.js'
import {moveVerified} from '../transport/verified-move.js'
import type {StageContext} from './runner.js'
import {type FailurePlan, type FileRecord, forEachFile, Rejected} from './skeleton.js'

export type NasRoute = 'rawacf_dmap' | 'rawacf_array' | 'antennas_iq_array' | 'conversion_failure'

/** Everything rsync-to-nas needs, resolved by the role layout. */
export interface RsyncToNasLayout {
  /** The Borealis data directory (from borealis.dataDirectory or Borealis' own config file). */
  source: string
  /** Where files that cannot be sent go, with a reason; never listed as a source. */
  quarantine: string
  /** True: the site NAS (a mounted directory); false: the site-linux computer over ssh. */
  nas: boolean
  /** The data root on the NAS or on site-linux; routes are directories under it. */
  root: string
  destination: Destination
  settleSeconds: number
  untriggeredSettleSeconds: number
}

export interface RsyncToNasOptions {
  /** The file whose creation triggered the run: every file of its block is still being written. */
  trigger?: string
}

export interface NasFileOutcome extends FileRecord {
  /** What was sent: the source, or the .rawacf.bz2 made from a .rawacf. */
  sent?: string
  route?: NasRoute
  destination?: string
  backup?: string | null
  hash?: string
}

export interface RsyncToNasResult {
  succeeded: number
  failed: number
  source: string
  destination: string
  files: NasFileOutcome[]
  skipped: Array<{file: string; reason: string}>
}

/** Type routing of the original; `rawacf` files also get a backup/ copy at NAS sites. */
export function classify(name: string): {route: NasRoute; rawacf: boolean; compress: boolean; known: boolean} {
  if (name.endsWith('.rawacf')) return {route: 'rawacf_dmap', rawacf: true, compress: true, known: true}
  if (name.endsWith('.rawacf.bz2')) return {route: 'rawacf_dmap', rawacf: true, compress: false, known: true}
  if (name.endsWith('.rawacf.h5')) return {route: 'rawacf_array', rawacf: true, compress: false, known: true}
  if (name.endsWith('.antennas_iq.h5')) return {route: 'antennas_iq_array', rawacf: false, compress: false, known: true}
  return {route: 'conversion_failure', rawacf: false, compress: false, known: false}
}

/** data_directory from the Borealis config file (JSON, read with jq by the original). */
export function borealisDataDirectory(configFile: string): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(configFile, 'utf8'))
  } catch (error) {
    throw new ConfigError(`${configFile}: cannot read the Borealis config (${oneLine(error)})`)
  }
  const dir = (parsed as {data_directory?: unknown}).data_directory
  if (typeof dir !== 'string' || dir.trim() === '') throw new ConfigError(`${configFile}: no data_directory key`)
  return dir
}

interface Candidate {
  path: string
  mtime: Date
}

/** Recursive listing of names containing rawacf or antennas_iq, skipping hidden and excluded directories. */
async function listCandidates(dir: string, exclude: readonly string[]): Promise<Candidate[]> {
  const out: Candidate[] = []
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, {withFileTypes: true})) {
      const path = join(current, entry.name)
      if (entry.name.startsWith('.')) continue // temp files of atomic writes, flags
      if (entry.isDirectory()) {
        if (!exclude.includes(path)) await walk(path)
        continue
      }
      // Symbolic links are not files here: a link out of the directory is never followed or removed.
      if (!entry.isFile() || !/rawacf|antennas_iq/.test(entry.name)) continue
      const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null // removed between readdir and stat
        throw error
      })
      if (info) out.push({path, mtime: info.mtime})
    }
  }
  await walk(dir)
  return out.sort((a, b) => a.path.localeCompare(b.path))
}

export async function rsyncToNas(context: StageContext, layout: RsyncToNasLayout, options: RsyncToNasOptions = {}): Promise<RsyncToNasResult> {
  const {dryRun, summary, log, signal} = context
  const {source, nas, root} = layout
  summary.line(`Transferring from: ${source}`)
  summary.line(nas ? `Transferring to NAS: ${root}` : `Transferring to Site-Linux: ${root}`)
  summary.blank()

  const now = context.now()
  const prefix = options.trigger ? blockPrefix(options.trigger) : null
  if (options.trigger && !prefix) throw new ConfigError(`${options.trigger}: the trigger is not a Borealis file name (YYYYMMDD.HHMM.SS.…)`)
  const settleMs = 1000 * (options.trigger ? layout.settleSeconds : layout.untriggeredSettleSeconds)
  const skipped: RsyncToNasResult['skipped'] = []
  const candidates: Candidate[] = []
  const listed = await listCandidates(source, [layout.quarantine])
  const listedPaths = new Set(listed.map((c) => c.path))
  for (const candidate of listed) {
    const name = basename(candidate.path)
    let reason: string | null = null
    // A .bz2 left by an earlier run that could not deliver it: its .rawacf is the source of truth
    // and is compressed afresh when that file is moved (it would otherwise be sent twice).
    if (name.endsWith('.rawacf.bz2') && listedPaths.has(candidate.path.slice(0, -'.bz2'.length))) {
      reason = `made from ${basename(candidate.path.slice(0, -4))} by an earlier run; remade from it`
    } else if (prefix && name.includes(prefix)) reason = `block ${prefix} is still being written (trigger)`
    else if (now.getTime() - candidate.mtime.getTime() < settleMs) reason = `modified less than ${settleMs / 1000} s ago (still being written)`
    else if (!nas && !name.includes('rawacf')) reason = 'not a rawacf file (only rawacf files go to site-linux)'
    if (reason) {
      skipped.push({file: candidate.path, reason})
      log.event('file.skipped', {file: candidate.path, reason}, 'debug')
    } else {
      candidates.push(candidate)
    }
  }
  const result: RsyncToNasResult = {succeeded: 0, failed: 0, source, destination: root, files: [], skipped}
  if (candidates.length === 0) {
    summary.line('No files to be transferred.')
    return result
  }

  // A NAS that is not mounted shows as a missing data root: never fill the local disk under its
  // mount point instead (exit 2, naming it). (A site-linux root is checked by its own host.)
  if (nas) await stat(root)
  const transport = context.transport(layout.destination)
  if (!dryRun) await transport.open(signal)
  try {
    const done = await forEachFile(context, candidates, {
      quarantineDirectory: layout.quarantine,
      path: (c) => c.path,
      handle: (c) => moveOne(context, transport, c, layout),
      onFailure: (c, error) => failurePlan(c.path, error),
    })
    return {...result, ...done}
  } finally {
    if (!dryRun) await transport.close()
  }
}

/**
 * Misnamed files and copies that failed verification twice go to quarantine (with the .bz2 made
 * from a .rawacf); a file still being written, an unreachable host or a full disk keep the file for
 * the next run.
 */
function failurePlan(path: string, error: unknown): FailurePlan {
  const sent = classify(basename(path)).compress ? [path, `${path}.bz2`] : [path]
  if (error instanceof Rejected) return {summary: [error.summaryLine ?? `Transfer failed: ${path}`], quarantine: [path]}
  if (error instanceof VerifyError) return {summary: [`Transfer failed: ${sent.at(-1)}`], quarantine: sent}
  return {summary: [`Transfer failed: ${sent.at(-1)}`], quarantine: 'keep'}
}

async function moveOne(context: StageContext, transport: Transport, candidate: Candidate, layout: RsyncToNasLayout): Promise<NasFileOutcome> {
  const {dryRun, summary, log, signal} = context
  const path = candidate.path
  const name = basename(path)
  const type = classify(name)
  let route = type.route
  if (!type.known) {
    summary.line(`unknown file type: ${path}`)
  } else {
    let timestampOk: boolean
    try {
      timestampOk = checkTimestamp(path, candidate.mtime).ok
    } catch (error) {
      // Not YYYYMMDD.HHMM.SS.<site>.<x>.<type>: nothing downstream can place it.
      throw new Rejected(`${oneLine(error)}; quarantined, not sent`, [path], `check_timestamp failed: ${path}`)
    }
    if (!timestampOk) {
      // The original's routing: a name whose time is over a day from the file's mtime goes to conversion_failure/.
      summary.line(`check_timestamp failed: ${path}`)
      route = 'conversion_failure'
      if (!dryRun) await context.alert(`check_timestamp failed: ${path}`)
    }
  }
  const sent = type.compress ? `${path}.bz2` : path
  const sentName = basename(sent)
  const destination = `${layout.root}/${route}/${sentName}`
  const backup = type.rawacf && layout.nas && route !== 'conversion_failure' ? `${layout.root}/backup/${sentName}` : null
  const base = {source: path, sent, route, destination: transport.describe(destination), backup: backup && transport.describe(backup)}
  if (dryRun) return {...base, outcome: 'planned', destinations: [base.destination]}

  // A fresh .bz2 from the .rawacf every time: never a stale one from an earlier run.
  if (type.compress) await compressFile(path, sent, {signal})
  const moved = await moveVerified(transport, sent, backup ? [backup, destination] : [destination], {
    algorithm: context.hashAlgorithm,
    mode: 0o775,
    retry: context.retry,
    signal,
    carries: type.compress ? [path] : [],
    // A same-named copy with other content is a leftover of an earlier failed transfer (the
    // original's --append-verify left such files forever): replace it once.
    resendOnConflict: true,
    onResend: (error) => log.event('verify.failed', {file: sent, expected: error.expected, actual: error.actual, action: 're-send once'}, 'warn'),
    onCopied: (target, put) =>
      log.event('transfer.verified', {file: sent, destination: transport.describe(target), hash: put.hash, outcome: put.outcome, resent: put.resent}),
  })
  summary.line(`Successfully transferred: ${sent}`)
  return {...base, outcome: 'transferred', hash: moved.hash, destinations: backup ? [base.backup!, base.destination] : [base.destination]}
}
