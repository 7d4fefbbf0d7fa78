// Stage rsync-to-nas (borealis host): moves finished Borealis files
// from the radar computer to the site NAS (or to the site-linux computer for non-NAS sites),
// routed by type, with a verified backup copy for rawacf files. A source file is deleted only
// when every copy it has (backup and main) was re-read on the destination and its hash matched.
//
// Fixed defects of the original: the backup check is no longer overwritten by the main check;
// copies are fsynced and renamed, never appended in place; files still being written under
// another block prefix are left alone (settle time); a failed bzip2 stops that file instead of
// sending a stale .bz2; a same-size different destination is re-sent once and then quarantined
// with a reason, never retried forever. See docs/design.md#backup-check-overwritten,
// #delete-before-durable, #in-progress-files-moved, #stale-bz2-sent, #append-verify-forever.
import {type BigIntStats, readFileSync} from 'node:fs'
import {readdir, stat, unlink} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {resolvePath} from '../config/index.js'
import {ConfigError, oneLine, PartialFailureError, VerifyError} from '../errors.js'
import {compressFile} from '../formats/bzip2.js'
import {blockPrefix, checkTimestamp} from '../formats/names.js'
import {fsyncDir, moveFileVerified, writeFileAtomic} from '../fs/atomic.js'
import {transportFor} from '../transport/index.js'
import type {Transport} from '../transport/types.js'
import {sendVerifiedWithResend} from '../transport/verified-move.js'
import type {StageContext} from './runner.js'

export type NasRoute = 'rawacf_dmap' | 'rawacf_array' | 'antennas_iq_array' | 'conversion_failure'

export interface RsyncToNasOptions {
  /** The file whose creation triggered the run: every file of its block is still being written. */
  trigger?: string
}

export interface NasFileOutcome {
  /** The source as found (full path). */
  source: string
  /** What was sent: the source, or the .rawacf.bz2 made from a .rawacf. */
  sent: string
  route: NasRoute
  destination: string
  backup: string | null
  outcome: 'transferred' | 'failed' | 'quarantined' | 'planned'
  reason?: string
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

/** Type routing of the original; `backup` = also copied to backup/ (rawacf files at NAS sites). */
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
      if (!entry.isFile() || !/rawacf|antennas_iq/.test(entry.name)) continue
      const info = await stat(path).catch(() => null)
      if (info) out.push({path, mtime: info.mtime})
    }
  }
  await walk(dir)
  return out.sort((a, b) => a.path.localeCompare(b.path))
}

async function deleteSources(paths: readonly string[]): Promise<void> {
  for (const path of new Set(paths)) {
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error
    })
    await fsyncDir(dirname(path))
  }
}

export async function rsyncToNas(context: StageContext, options: RsyncToNasOptions = {}): Promise<RsyncToNasResult> {
  const {config, radar, dryRun, summary, log, signal} = context
  const home = process.env.HOME
  const source = config.borealis.configFile
    ? borealisDataDirectory(resolvePath(config.borealis.configFile, {radar, home}))
    : resolvePath(config.borealis.dataDirectory, {radar, home})
  const nas = config.nasSites.includes(radar)
  const root = resolvePath(nas ? config.site.nasDataRoot : config.site.siteLinuxDataRoot, {radar, home})
  const quarantine = resolvePath(config.borealis.quarantineDirectory, {radar, home})
  if (!nas && !config.hosts.siteLinux) throw new ConfigError(`${radar} is not a NAS site (nasSites) but hosts.siteLinux is not set`)

  summary.line(`Transferring from: ${source}`)
  summary.line(nas ? `Transferring to NAS: ${root}` : `Transferring to Site-Linux: ${root}`)
  summary.blank()

  const now = context.now()
  const prefix = options.trigger ? blockPrefix(options.trigger) : null
  if (options.trigger && !prefix) throw new ConfigError(`${options.trigger}: the trigger is not a Borealis file name (YYYYMMDD.HHMM.SS.…)`)
  const settleMs = 1000 * (options.trigger ? config.borealis.settleSeconds : config.borealis.untriggeredSettleSeconds)
  const skipped: RsyncToNasResult['skipped'] = []
  const candidates: Candidate[] = []
  const listed = await listCandidates(source, [quarantine])
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

  const transport: Transport = transportFor(nas ? {kind: 'local'} : {kind: 'ssh', host: config.hosts.siteLinux!}, config)
  if (!dryRun) await transport.open(signal)
  try {
    for (const candidate of candidates) {
      if (signal.aborted) break
      const outcome = await moveOne(context, transport, candidate, {root, quarantine, nas})
      result.files.push(outcome)
      if (outcome.outcome === 'transferred') result.succeeded++
      else if (outcome.outcome !== 'planned') result.failed++
    }
  } finally {
    if (!dryRun) await transport.close()
  }
  return result
}

async function moveOne(
  context: StageContext,
  transport: Transport,
  candidate: Candidate,
  where: {root: string; quarantine: string; nas: boolean},
): Promise<NasFileOutcome> {
  const {config, dryRun, summary, log, signal} = context
  const algorithm = config.hashAlgorithm
  const path = candidate.path
  const name = basename(path)
  const type = classify(name)
  let route = type.route
  log.event('file.detected', {file: path, route})
  if (!type.known) {
    summary.line(`unknown file type: ${path}`)
  } else {
    let timestampOk = false
    try {
      timestampOk = checkTimestamp(path, candidate.mtime).ok
    } catch {
      timestampOk = false
    }
    if (!timestampOk) {
      summary.line(`check_timestamp failed: ${path}`)
      route = 'conversion_failure'
      if (!dryRun) await context.alert(`check_timestamp failed: ${path}`)
    }
  }
  const sent = type.compress ? `${path}.bz2` : path
  const sentName = basename(sent)
  const destination = `${where.root}/${route}/${sentName}`
  const backup = type.rawacf && where.nas && route !== 'conversion_failure' ? `${where.root}/backup/${sentName}` : null
  const base: Omit<NasFileOutcome, 'outcome'> = {source: path, sent, route, destination: transport.describe(destination), backup: backup && transport.describe(backup)}
  if (dryRun) return {...base, outcome: 'planned'}

  const retry = {...config.retry, signal, onRetry: (error: unknown, attempt: number, delayMs: number) =>
    log.event('transfer.retry', {file: sent, attempt, delayMs, error: oneLine(error)}, 'warn')}
  let before: BigIntStats | null = null
  try {
    if (type.compress) {
      // A fresh .bz2 from the .rawacf every time: never a stale one from an earlier run.
      await compressFile(path, sent, {signal})
    }
    const copies = backup ? [backup, destination] : [destination]
    before = await stat(path, {bigint: true})
    let hash = ''
    for (const target of copies) {
      const described = transport.describe(target)
      log.event('transfer.start', {file: sent, destination: described})
      const put = await sendVerifiedWithResend(transport, sent, target, {
        algorithm,
        mode: 0o775,
        retry,
        signal,
        // A same-named copy with other content is a leftover of an earlier failed transfer
        // (the original's --append-verify left such files forever): replace it once.
        resendOnConflict: true,
        onResend: (error) => log.event('verify.failed', {file: sent, destination: described, expected: error.expected, actual: error.actual, action: 're-send once'}, 'warn'),
      })
      hash = put.hash
      log.event('transfer.verified', {file: sent, destination: described, hash, outcome: put.outcome, resent: put.resent})
    }
    if (await changedSince(path, before)) throw new SourceChanged(path)
    // Every copy verified: only now may the radar's original go.
    await deleteSources(type.compress ? [sent, path] : [path])
    summary.line(`Successfully transferred: ${sent}`)
    return {...base, outcome: 'transferred', hash}
  } catch (caught) {
    // A mismatch caused by a source still being written is not corruption: keep the
    // file for the next run, whose copy replaces the stale one.
    const error = caught instanceof VerifyError && before && (await changedSince(path, before)) ? new SourceChanged(path) : caught
    const reason = oneLine(error)
    summary.line(`Transfer failed: ${sent}`)
    if (error instanceof VerifyError && !(error instanceof SourceChanged)) {
      await quarantineFile(context, type.compress ? [path, sent] : [path], where.quarantine, reason)
      return {...base, outcome: 'quarantined', reason}
    }
    log.event('transfer.failed', {file: sent, error: reason, transient: (error as {transient?: boolean}).transient === true}, 'error')
    return {...base, outcome: 'failed', reason}
  }
}

class SourceChanged extends PartialFailureError {
  constructor(path: string) {
    super(`${path}: changed while it was being sent (still being written); kept for the next run`)
  }
}

async function changedSince(path: string, before: BigIntStats): Promise<boolean> {
  const after = await stat(path, {bigint: true}).catch(() => null)
  return !after || after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ino !== before.ino
}

/** Moves the file(s) to the local quarantine with a `.reason` file and alerts once. */
async function quarantineFile(context: StageContext, paths: readonly string[], dir: string, reason: string): Promise<void> {
  const {config, log, signal} = context
  const kept: string[] = []
  for (const path of paths) {
    const target = join(dir, basename(path))
    try {
      await moveFileVerified(path, target, {algorithm: config.hashAlgorithm, signal})
      await writeFileAtomic(`${target}.reason`, `${new Date().toISOString()} ${reason}\n`, {overwrite: true})
      log.event('file.quarantined', {file: path, quarantine: target, reason}, 'error')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      kept.push(path)
      log.event('file.failed', {file: path, error: `could not quarantine (kept in place): ${oneLine(error)}`}, 'error')
    }
  }
  // The alert says what really happened: a file that could not be moved is still where it was.
  await context.alert(
    kept.length === 0 ? `${paths[0]} quarantined in ${dir}: ${reason}` : `${kept.join(', ')} could not be quarantined in ${dir} and stay in place: ${reason}`,
  )
}
