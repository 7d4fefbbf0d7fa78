// Stage rsync-to-campus (site-linux): sends the radar's DMAP
// files, HDF5 rawacf files and antennas_iq plots from the site NAS (or the local site-linux data
// root, by nasSites) to campus over ONE multiplexed ssh connection, each verified before its
// source is deleted. Fixed defects of the original: the connection check really checks, plots are
// taken from the plot directory only, not recursively from fullsize/ and failed_resize/, copies
// are never appended in place (docs/design.md#connection-check-never-fails,
// #plots-shipped-recursively, #append-verify-forever).
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'

import {resolvePath} from '../config/index.js'
import {ConfigError, oneLine} from '../errors.js'
import {transportFor} from '../transport/index.js'
import type {StageContext} from './runner.js'
import {type FileToSend, mergeOutcomes, sendFiles, type SendOutcome} from './send-files.js'

export interface RsyncToCampusResult extends SendOutcome {
  source: string
  campus: string
}

/** Regular files directly in `dir` whose names pass `accept`, sorted; a missing directory is empty. */
export async function filesIn(dir: string, accept: (name: string) => boolean): Promise<string[]> {
  try {
    const entries = await readdir(dir, {withFileTypes: true})
    return entries
      .filter((e) => e.isFile() && !e.name.startsWith('.') && accept(e.name))
      .map((e) => join(dir, e.name))
      .sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

export async function rsyncToCampus(context: StageContext): Promise<RsyncToCampusResult> {
  const {config, radar, summary, log, dryRun, signal} = context
  const host = config.hosts.campus
  if (!host) throw new ConfigError('hosts.campus is not set: rsync-to-campus needs the campus ssh target')
  const home = process.env.HOME
  const vars = {radar, home}
  const root = resolvePath(config.nasSites.includes(radar) ? config.site.nasDataRoot : config.site.siteLinuxDataRoot, vars)
  const dataDir = resolvePath(config.campus.dataDirectory, vars)
  const holdingDir = resolvePath(config.campus.holdingDirectory, vars)
  const plotsDir = resolvePath(config.campus.plotsDirectory, vars)
  const plotSource = resolvePath(config.site.plotDirectory, vars)

  summary.line(`Transferring from: ${root}`)
  summary.line(`Transferring HDF5 files to: ${host.target}:${holdingDir}`)
  summary.blank()
  summary.line(`Transferring DMap files to: ${host.target}:${dataDir}/`)
  summary.blank()

  const dmap = await filesIn(join(root, 'rawacf_dmap'), (n) => n.endsWith('rawacf.bz2'))
  const hdf5 = await filesIn(join(root, 'rawacf_array'), (n) => n.endsWith('rawacf.h5'))
  const plots = await filesIn(plotSource, (n) => /\.(png|jpg)$/.test(n))
  for (const file of [...dmap, ...hdf5, ...plots]) log.event('file.detected', {file})
  const to = (dir: string) => (path: string): FileToSend => ({source: path, destination: `${dir}/${path.slice(path.lastIndexOf('/') + 1)}`})

  const transport = transportFor({kind: 'ssh', host, configKey: 'hosts.campus'}, config)
  const total = dmap.length + hdf5.length + plots.length
  if (total > 0 && !dryRun) {
    try {
      await transport.open(signal)
    } catch (error) {
      summary.line(`Could not establish connection to ${host.target}`)
      log.event('transfer.failed', {destination: host.target, error: oneLine(error)}, 'error')
      await context.alert(`could not establish connection to ${host.target}: ${oneLine(error)}`)
      throw error
    }
  }
  try {
    const outcomes: SendOutcome[] = []
    if (dmap.length === 0) summary.line('No dmap files found to be transferred.')
    outcomes.push(await sendFiles(context, transport, dmap.map(to(dataDir)), 0o664))
    if (hdf5.length === 0) {
      summary.blank()
      summary.line('No hdf5 files found to be transferred.')
    }
    outcomes.push(await sendFiles(context, transport, hdf5.map(to(holdingDir)), 0o664))
    if (plots.length === 0) {
      summary.blank()
      summary.line('No antennas iq plots found to be transferred.')
    }
    outcomes.push(await sendFiles(context, transport, plots.map(to(plotsDir)), 0o664))
    return {...mergeOutcomes(...outcomes), source: root, campus: host.target}
  } finally {
    if (total > 0 && !dryRun) await transport.close()
  }
}
