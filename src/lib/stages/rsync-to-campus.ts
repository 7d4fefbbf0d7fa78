// Stage rsync-to-campus (site-linux): sends the radar's DMAP files, HDF5 rawacf files and
// antennas_iq plots from the site NAS (or the local site-linux data root, for sites without a NAS)
// to campus over ONE multiplexed ssh connection, each verified before its source is deleted.
// What the original got wrong: its connection check did not check anything; it took plots
// recursively, also from fullsize/ and failed_resize/; it appended to copies in place.
// A file whose name does not follow its type's naming rule is quarantined here with a reason:
// campus could not place it.
import {stat} from 'node:fs/promises'
import {basename, join} from 'node:path'

import {oneLine} from '../errors.js'
import {parseBorealisName, parseDmapName, parsePlotName} from '../formats/names.js'
import {filesIn} from '../fs/list.js'
import type {Destination} from '../transport/index.js'
import type {StageContext} from './runner.js'
import {type FileToSend, pushFiles, type SentFile} from './send-files.js'

/** Everything rsync-to-campus needs, resolved by the role layout. */
export interface RsyncToCampusLayout {
  /** The site data root: the NAS, or the site-linux disk. */
  root: string
  /** Where plot-antennas-iq writes the plots. */
  plotSource: string
  /** This host's quarantine for files that cannot be sent. */
  quarantine: string
  campus: Destination & {kind: 'ssh'}
  /** Directories on the campus host. */
  remote: {data: string; holding: string; plots: string}
}

export interface RsyncToCampusResult {
  succeeded: number
  failed: number
  files: SentFile[]
  source: string
  campus: string
}

/** A file to send to `dir`, or a rejected one when `check` throws on its name. */
function toSend(dir: string, check: (path: string) => unknown) {
  return (path: string): FileToSend => {
    try {
      check(path)
      return {source: path, destination: `${dir}/${basename(path)}`}
    } catch (error) {
      return {source: path, destination: null, rejected: `${oneLine(error)}; campus could not place it`}
    }
  }
}

export async function rsyncToCampus(context: StageContext, layout: RsyncToCampusLayout): Promise<RsyncToCampusResult> {
  const {summary} = context
  const {root, remote} = layout
  const target = layout.campus.host.target
  summary.line(`Transferring from: ${root}`)
  summary.line(`Transferring HDF5 files to: ${target}:${remote.holding}`)
  summary.blank()
  summary.line(`Transferring DMap files to: ${target}:${remote.data}/`)
  summary.blank()

  // The data root missing (the NAS not mounted) is the operator's to fix: exit 2 naming it.
  await stat(root)
  const dmap = (await filesIn(join(root, 'rawacf_dmap'), (n) => n.endsWith('rawacf.bz2'), {missingOk: true})).map(toSend(remote.data, parseDmapName))
  const hdf5 = (await filesIn(join(root, 'rawacf_array'), (n) => n.endsWith('rawacf.h5'), {missingOk: true})).map(toSend(remote.holding, parseBorealisName))
  const plots = (await filesIn(layout.plotSource, (n) => /\.(png|jpg)$/.test(n), {missingOk: true})).map(toSend(remote.plots, (p) => parsePlotName(p.replace(/\.png$/, '.jpg'))))
  const sent = await pushFiles(
    context,
    [
      {files: dmap, whenEmpty: () => summary.line('No dmap files found to be transferred.')},
      {files: hdf5, whenEmpty: () => (summary.blank(), summary.line('No hdf5 files found to be transferred.'))},
      {files: plots, whenEmpty: () => (summary.blank(), summary.line('No antennas iq plots found to be transferred.'))},
    ],
    {destination: layout.campus, quarantine: layout.quarantine, mode: 0o664},
  )
  return {...sent, source: root, campus: target}
}
