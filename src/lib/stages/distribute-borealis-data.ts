// Stage distribute-borealis-data (campus, per radar): checks each DMAP file of the radar's data
// directory (bzip2 integrity, strict DMAP read giving the CPID), copies distributable ones to every
// configured staging destination (VT, BAS, mirror holding…) with group and mode, each copy
// verified, and only when all copies verified moves the file into the campus archive
// `<rad>_rawacf_dmap/YYYY/MM/`. A special experiment's DMAP file (CPID not distributed) goes to
// `special_experiments/YYYY/MM/`. Then each HDF5 rawacf file — special experiments' too, as the
// original did and as downstream users expect — is checked and archived in `<rad>_rawacf/YYYY/MM/`.
//
// What the original got wrong: a failing DMAP went to the failure directory without its HDF5
// partner, or with a wrong name; only one bzip2 exit code counted as a failure; the CPID was
// scraped from a tool's output; files could be overwritten. Here a damaged or misnamed file is
// quarantined (with its HDF5 partner) and the other files go on; an identical file already
// staged is accepted, a different one is an error and the file stays where it is; every move is
// the verified move.
import {stat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {oneLine} from '../errors.js'
import {testBzip2} from '../formats/bzip2.js'
import {checkDmapIntegrity} from '../formats/dmap/check.js'
import {checkHdf5File} from '../formats/hdf5/check.js'
import {dmapToBorealisName, parseBorealisName, parseDmapName} from '../formats/names.js'
import {filesIn} from '../fs/list.js'
import {LocalTransport} from '../transport/local.js'
import {moveVerified, sendVerifiedWithResend} from '../transport/verified-move.js'
import type {StageContext} from './runner.js'
import {type FailurePlan, type FileRecord, forEachFile, Rejected} from './skeleton.js'

export interface StagingDestination {
  name: string
  path: string
  group?: string
  mode: number
}

/** Everything distribute-borealis-data needs, resolved by the role layout. */
export interface DistributeLayout {
  data: string
  archiveRoot: string
  /** The conversion failure directory: the campus quarantine. */
  failure: string
  special: string
  staging: readonly StagingDestination[]
  /** CPIDs whose files go to the community (the others are special experiments). */
  distributedCpids: ReadonlySet<number>
}

export interface DistributedFile extends FileRecord {
  kind: 'dmap' | 'hdf5'
  cpid?: number
  destinations: string[]
  /** destinations, joined: for the one-line-per-file output. */
  destination?: string
}

export interface DistributeResult {
  succeeded: number
  failed: number
  dataDirectory: string
  files: DistributedFile[]
}

/** A rejected file (damaged, misnamed) is quarantined with its partners; any other failure keeps it. */
const onFailure = (path: string, error: unknown): FailurePlan =>
  error instanceof Rejected
    ? {summary: [error.summaryLine ?? `File distribution failed: ${path}`], quarantine: error.files ?? [path]}
    : {summary: [`File distribution failed: ${path}`], quarantine: 'keep'}

const yearMonth = (time: Date) => ({yyyy: String(time.getUTCFullYear()), mm: String(time.getUTCMonth() + 1).padStart(2, '0')})

export async function distributeBorealisData(context: StageContext, layout: DistributeLayout): Promise<DistributeResult> {
  const {radar, summary, log, dryRun, signal} = context
  const {data, archiveRoot, failure, special, staging} = layout
  const transport = new LocalTransport()
  const put = {algorithm: context.hashAlgorithm, retry: context.retry, signal}

  summary.line(`Distributing from: ${data}`)
  summary.line('Distributing to: ')
  summary.line(`        \tNAS: ${archiveRoot}`)
  const mirror = staging.filter((t) => t.name === 'mirror')
  const institutions = staging.filter((t) => t.name !== 'mirror')
  if (mirror.length > 0) summary.line(`        \tMirror: ${mirror.map((t) => t.path).join('\t')}`)
  if (institutions.length > 0) summary.line(`        \tInstitutions: ${institutions.map((t) => t.path).join('\t')}`)
  summary.blank()

  /** The HDF5 file the DMAP was converted from, when it is here: it shares a damaged DMAP's fate. */
  const partnerOf = async (dmap: string): Promise<string[]> => {
    const partner = dmapToBorealisName(dmap)
    return (await stat(partner).then((s) => s.isFile(), () => false)) ? [partner] : []
  }
  const record = (file: DistributedFile): DistributedFile => ({...file, destination: file.destinations.join(', ') || undefined})

  // DMAP files.
  const dmapFiles = await filesIn(data, (n) => n.endsWith('rawacf.bz2'))
  if (dmapFiles.length === 0) summary.line('No dmap files found to be distributed.')
  const dmap = await forEachFile(context, dmapFiles, {
    quarantineDirectory: failure,
    path: (path) => path,
    onFailure,
    handle: async (path): Promise<DistributedFile> => {
      let time: Date
      try {
        time = parseDmapName(path).time
      } catch (error) {
        throw new Rejected(oneLine(error), [path], `File distribution failed: ${path}`)
      }
      // A legacy name without a channel letter has no HDF5 partner (dmapToBorealisName says so).
      const partners = await partnerOf(path).catch(() => [])
      const test = await testBzip2(path, {signal}).catch((error: unknown) => ({ok: false as const, reason: oneLine(error)}))
      if (!test.ok) throw new Rejected(test.reason, [path, ...partners], `DMAP file failed bzip2 test: ${path}`)
      let cpid: number
      try {
        cpid = (await checkDmapIntegrity(path, {signal})).cp
      } catch (error) {
        if (signal.aborted) throw error
        throw new Rejected(oneLine(error), [path, ...partners], `DMAP integrity test failed: ${path}`)
      }
      const {yyyy, mm} = yearMonth(time)
      if (!layout.distributedCpids.has(cpid)) {
        // Only the DMAP file is special: its HDF5 partner is archived with the others below.
        summary.line(`File with CPID ${cpid} will not be distributed: ${path}`)
        const target = join(special, yyyy, mm, basename(path))
        if (dryRun) return record({source: path, kind: 'dmap', outcome: 'planned', cpid, destinations: [target]})
        await moveVerified(transport, path, target, put)
        log.event('transfer.verified', {file: path, destination: target})
        return record({source: path, kind: 'dmap', outcome: 'special', cpid, destinations: [target]})
      }
      const archived = join(archiveRoot, `${radar}_rawacf_dmap`, yyyy, mm, basename(path))
      const destinations = [...staging.map((t) => join(t.path, basename(path))), archived]
      if (dryRun) return record({source: path, kind: 'dmap', outcome: 'planned', cpid, destinations})
      for (const target of staging) {
        const copy = join(target.path, basename(path))
        const copied = await sendVerifiedWithResend(transport, path, copy, {...put, mode: target.mode, group: target.group})
        log.event('transfer.verified', {file: path, destination: copy, hash: copied.hash, outcome: copied.outcome})
      }
      // Every staging copy verified: now the archive move (which deletes the source).
      await moveVerified(transport, path, archived, {...put, mode: 0o664})
      log.event('transfer.verified', {file: path, destination: archived})
      summary.line(`File distribution successful: ${path}`)
      return record({source: path, kind: 'dmap', outcome: 'distributed', cpid, destinations})
    },
  })

  // HDF5 rawacf files still in the data directory (partners of damaged DMAP files went with them).
  const hdf5Files = await filesIn(data, (n) => n.endsWith('rawacf.h5'))
  if (hdf5Files.length === 0) {
    summary.blank()
    summary.line('No HDF5 files found to be distributed.')
  }
  const hdf5 = await forEachFile(context, hdf5Files, {
    quarantineDirectory: failure,
    path: (path) => path,
    onFailure,
    handle: async (path): Promise<DistributedFile> => {
      let time: Date
      try {
        time = parseBorealisName(path).time
      } catch (error) {
        throw new Rejected(oneLine(error), [path], `File distribution failed: ${path}`)
      }
      const check = await checkHdf5File(path)
      if (!check.ok) throw new Rejected(check.reason ?? 'HDF5 check failed', [path], `HDF5 file failed h5stat test: ${path}`)
      const {yyyy, mm} = yearMonth(time)
      const target = join(archiveRoot, `${radar}_rawacf`, yyyy, mm, basename(path))
      if (dryRun) return record({source: path, kind: 'hdf5', outcome: 'planned', destinations: [target]})
      await moveVerified(transport, path, target, {...put, mode: 0o644})
      summary.line(`File distribution successful: ${path}`)
      return record({source: path, kind: 'hdf5', outcome: 'distributed', destinations: [target]})
    },
  })
  return {
    succeeded: dmap.succeeded + hdf5.succeeded,
    failed: dmap.failed + hdf5.failed,
    dataDirectory: data,
    files: [...dmap.files, ...hdf5.files] as DistributedFile[],
  }
}
