// Stage distribute-borealis-data (campus, per radar): checks each
// DMAP file of the radar's data directory (bzip2 integrity, strict DMAP read giving the CPID),
// copies distributable ones to every configured staging destination (VT, BAS, mirror holding…)
// with group and mode, each copy verified, and only when all copies verified moves the file into
// the campus NAS archive `<rad>_rawacf_dmap/YYYY/MM/`. Then each HDF5 rawacf file is checked and
// archived in `<rad>_rawacf/YYYY/MM/`.
//
// Fixed defects of the original: a failing DMAP goes to the failure directory together with its
// HDF5 partner under its real `.h5` name; every bzip2 failure counts (not only exit code 2); the
// CPID comes from a typed read, not from stdout; a special experiment's HDF5 partner goes with it;
// nothing is overwritten: an identical file already staged is accepted, a different one is an
// error and the file stays where it is; every move is copy → fsync → rename → verify → delete
// (docs/design.md#failure-partner-left-behind, #distribute-misroutes, #delete-before-durable).
import {stat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {resolvePath} from '../config/index.js'
import {oneLine} from '../errors.js'
import {run} from '../exec.js'
import {testBzip2} from '../formats/bzip2.js'
import {checkDmapIntegrity} from '../formats/dmap/check.js'
import {checkHdf5File} from '../formats/hdf5/check.js'
import {dmapToBorealisName, parseBorealisName, parseDmapName} from '../formats/names.js'
import {copyFileVerified, moveFileVerified, writeFileAtomic} from '../fs/atomic.js'
import {filesIn} from './rsync-to-campus.js'
import type {StageContext} from './runner.js'

export interface DistributedFile {
  file: string
  kind: 'dmap' | 'hdf5'
  outcome: 'distributed' | 'special' | 'failed' | 'kept' | 'planned'
  cpid?: number
  destinations: string[]
  /** destinations, joined: for the one-line-per-file output. */
  destination?: string
  reason?: string
}

export interface DistributeResult {
  succeeded: number
  failed: number
  dataDirectory: string
  files: DistributedFile[]
}

const yearMonth = (time: Date) => ({yyyy: String(time.getUTCFullYear()), mm: String(time.getUTCMonth() + 1).padStart(2, '0')})

export async function distributeBorealisData(context: StageContext): Promise<DistributeResult> {
  const {config, radar, summary, log, dryRun, signal} = context
  const home = process.env.HOME
  const vars = {radar, home}
  const data = resolvePath(config.campus.dataDirectory, vars)
  const archiveRoot = resolvePath(config.campus.archiveRoot, vars)
  const failure = resolvePath(config.campus.conversionFailureDirectory, vars)
  const special = resolvePath(config.campus.specialExperimentsDirectory, vars)
  const staging = config.campus.staging.map((t) => ({...t, path: resolvePath(t.path, vars), mode: Number.parseInt(t.mode, 8)}))
  const algorithm = config.hashAlgorithm
  const result: DistributeResult = {succeeded: 0, failed: 0, dataDirectory: data, files: []}
  const record = (file: DistributedFile) => {
    result.files.push({...file, destination: file.destinations.join(', ') || undefined})
    if (file.outcome === 'distributed' || file.outcome === 'special') result.succeeded++
    else if (file.outcome === 'failed') result.failed++
  }

  summary.line(`Distributing from: ${data}`)
  summary.line('Distributing to: ')
  summary.line(`        \tNAS: ${archiveRoot}`)
  const mirror = staging.filter((t) => t.name === 'mirror')
  const institutions = staging.filter((t) => t.name !== 'mirror')
  if (mirror.length > 0) summary.line(`        \tMirror: ${mirror.map((t) => t.path).join('\t')}`)
  if (institutions.length > 0) summary.line(`        \tInstitutions: ${institutions.map((t) => t.path).join('\t')}`)
  summary.blank()

  /** Moves files (a DMAP and its HDF5 partner) to a directory, verified, with a reason file. */
  const quarantine = async (paths: string[], reason: string): Promise<string[]> => {
    const moved: string[] = []
    const kept: string[] = []
    for (const path of paths) {
      const target = join(failure, basename(path))
      try {
        await moveFileVerified(path, target, {algorithm, signal})
        await writeFileAtomic(`${target}.reason`, `${new Date().toISOString()} ${reason}\n`, {overwrite: true})
        log.event('file.quarantined', {file: path, quarantine: target, reason}, 'error')
        moved.push(target)
      } catch (error) {
        kept.push(path)
        log.event('file.failed', {file: path, error: `could not move to ${failure} (kept in place): ${oneLine(error)}`}, 'error')
      }
    }
    await context.alert(
      kept.length === 0 ? `${paths[0]} moved to ${failure}: ${reason}` : `${kept.join(', ')} could not be moved to ${failure} and stay in place: ${reason}`,
    )
    return moved
  }
  const partnerOf = async (dmap: string): Promise<string[]> => {
    try {
      const partner = dmapToBorealisName(dmap)
      return (await stat(partner).then((s) => s.isFile())) ? [partner] : []
    } catch {
      return []
    }
  }

  // DMAP files.
  const dmapFiles = await filesIn(data, (n) => n.endsWith('rawacf.bz2'))
  if (dmapFiles.length === 0) summary.line('No dmap files found to be distributed.')
  const handled = new Set<string>()
  for (const path of dmapFiles) {
    if (signal.aborted) break
    log.event('file.detected', {file: path})
    const partners = await partnerOf(path)
    const test = await testBzip2(path, {signal}).catch((error: unknown) => ({ok: false as const, reason: oneLine(error)}))
    if (!test.ok) {
      summary.line(`DMAP file failed bzip2 test: ${path}`)
      partners.forEach((p) => handled.add(p))
      record({file: path, kind: 'dmap', outcome: dryRun ? 'planned' : 'failed', destinations: dryRun ? [] : await quarantine([path, ...partners], test.reason)})
      continue
    }
    let cpid: number
    try {
      cpid = (await checkDmapIntegrity(path, {signal})).cp
    } catch (error) {
      summary.line(`DMAP integrity test failed: ${path}`)
      partners.forEach((p) => handled.add(p))
      record({file: path, kind: 'dmap', outcome: dryRun ? 'planned' : 'failed', destinations: dryRun ? [] : await quarantine([path, ...partners], oneLine(error))})
      continue
    }
    const {yyyy, mm} = yearMonth(parseDmapName(path).time)
    if (!config.cpids.distributed.includes(cpid)) {
      summary.line(`File with CPID ${cpid} will not be distributed: ${path}`)
      partners.forEach((p) => handled.add(p))
      const dir = join(special, yyyy, mm)
      if (dryRun) {
        record({file: path, kind: 'dmap', outcome: 'planned', cpid, destinations: [dir]})
        continue
      }
      try {
        for (const file of [path, ...partners]) await moveFileVerified(file, join(dir, basename(file)), {algorithm, signal})
        record({file: path, kind: 'dmap', outcome: 'special', cpid, destinations: [dir]})
      } catch (error) {
        record({file: path, kind: 'dmap', outcome: 'failed', cpid, destinations: [], reason: oneLine(error)})
        await context.alert(`${path}: could not move to ${dir}: ${oneLine(error)}`)
      }
      continue
    }
    const archived = join(archiveRoot, `${radar}_rawacf_dmap`, yyyy, mm, basename(path))
    const destinations = [...staging.map((t) => join(t.path, basename(path))), archived]
    if (dryRun) {
      record({file: path, kind: 'dmap', outcome: 'planned', cpid, destinations})
      continue
    }
    try {
      for (const target of staging) {
        const copy = join(target.path, basename(path))
        const copied = await copyFileVerified(path, copy, {algorithm, mode: target.mode, signal})
        if (target.group) await run(['chgrp', '--', target.group, copy], {timeoutMs: 30_000, signal})
        log.event('transfer.verified', {file: path, destination: copy, hash: copied.hash, outcome: copied.outcome})
      }
      // Every staging copy verified: now the archive move (which deletes the source).
      await moveFileVerified(path, archived, {algorithm, mode: 0o664, signal})
      log.event('transfer.verified', {file: path, destination: archived})
      summary.line(`File distribution successful: ${path}`)
      record({file: path, kind: 'dmap', outcome: 'distributed', cpid, destinations})
    } catch (error) {
      const reason = oneLine(error)
      summary.line(`File distribution failed: ${path}`)
      log.event('transfer.failed', {file: path, error: reason}, 'error')
      await context.alert(`distribution of ${path} failed (file left in place): ${reason}`)
      record({file: path, kind: 'dmap', outcome: 'failed', cpid, destinations: [], reason})
    }
  }

  // HDF5 rawacf files still in the data directory.
  const hdf5Files = (await filesIn(data, (n) => n.endsWith('rawacf.h5'))).filter((p) => !handled.has(p))
  if (hdf5Files.length === 0) {
    summary.blank()
    summary.line('No HDF5 files found to be distributed.')
  }
  for (const path of hdf5Files) {
    if (signal.aborted) break
    log.event('file.detected', {file: path})
    const check = await checkHdf5File(path)
    if (!check.ok) {
      summary.line(`HDF5 file failed h5stat test: ${path}`)
      record({file: path, kind: 'hdf5', outcome: dryRun ? 'planned' : 'failed', destinations: dryRun ? [] : await quarantine([path], check.reason ?? 'HDF5 check failed')})
      continue
    }
    let target: string
    try {
      const {yyyy, mm} = yearMonth(parseBorealisName(path).time)
      target = join(archiveRoot, `${radar}_rawacf`, yyyy, mm, basename(path))
    } catch (error) {
      summary.line(`File distribution failed: ${path}`)
      record({file: path, kind: 'hdf5', outcome: 'failed', destinations: [], reason: oneLine(error)})
      continue
    }
    if (dryRun) {
      record({file: path, kind: 'hdf5', outcome: 'planned', destinations: [target]})
      continue
    }
    try {
      await moveFileVerified(path, target, {algorithm, mode: 0o644, signal})
      summary.line(`File distribution successful: ${path}`)
      record({file: path, kind: 'hdf5', outcome: 'distributed', destinations: [target]})
    } catch (error) {
      const reason = oneLine(error)
      summary.line(`File distribution failed: ${path}`)
      await context.alert(`archiving ${path} failed (file left in place): ${reason}`)
      record({file: path, kind: 'hdf5', outcome: 'failed', destinations: [], reason})
    }
  }
  return result
}
