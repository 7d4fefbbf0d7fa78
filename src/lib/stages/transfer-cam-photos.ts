// Stage transfer-cam-photos (site-linux): camera photos
// `*cam<N>*.jpg` go to the campus photo tree `<camRoot>/<rad>cam/<rad>cam<N>/YYYY/MM/` by the date
// in the first dot-field of each name, mode 664, over the one ssh connection, VERIFIED before
// the source is deleted (the original deleted sources without any check). Cameras come from
// the config (the original hard-coded 210/211/212); month directories are created for every
// camera; a name without a valid date is reported and left in place (the original filed it
// under the camera root). See docs/design.md#cam-photos-unverified.
import {basename} from 'node:path'

import {resolvePath} from '../config/index.js'
import {ConfigError, oneLine} from '../errors.js'
import {nameTime} from '../formats/names.js'
import {transportFor} from '../transport/index.js'
import {filesIn} from './rsync-to-campus.js'
import type {StageContext} from './runner.js'
import {type FileToSend, sendFiles, type SendOutcome, type SentFile} from './send-files.js'

export interface CamPhotosResult extends SendOutcome {
  source: string
  campus: string
}

/** YYYY and MM from the first dot-field of a photo name (YYYYMMDD), or null. */
export function photoMonth(name: string): {yyyy: string; mm: string} | null {
  const match = /^(\d{4})(\d{2})(\d{2})(?:\.|$)/.exec(name)
  if (!match) return null
  try {
    nameTime(name, `${match[1]}${match[2]}${match[3]}`, '0000', '00')
  } catch {
    return null
  }
  return {yyyy: match[1]!, mm: match[2]!}
}

export async function transferCamPhotos(context: StageContext): Promise<CamPhotosResult> {
  const {config, radar, summary, log, dryRun, signal} = context
  const host = config.hosts.campus
  if (!host) throw new ConfigError('hosts.campus is not set: transfer-cam-photos needs the campus ssh target')
  const home = process.env.HOME
  const source = resolvePath(config.site.camDirectory, {radar, home})
  const radarRoot = `${resolvePath(config.campus.camRoot, {radar, home})}/${radar}cam`
  summary.line(`Transferring from: ${source}/`)
  summary.line(`Transferring to: ${host.target}:${radarRoot}/`)
  summary.blank()

  const photos = await filesIn(source, (n) => n.endsWith('.jpg'))
  const files: FileToSend[] = []
  const undated: SentFile[] = []
  for (const camera of config.site.cameras) {
    for (const path of photos.filter((p) => basename(p).includes(`cam${camera}`))) {
      log.event('file.detected', {file: path, camera})
      const month = photoMonth(basename(path))
      if (!month) {
        undated.push({source: path, destination: '', outcome: 'failed', reason: `${path}: no valid YYYYMMDD date in the first field of the name; left in place`})
        continue
      }
      const dir = `${radarRoot}/${radar}cam${camera}/${month.yyyy}/${month.mm}/`
      files.push({source: path, destination: `${dir}${basename(path)}`, announce: `Transferring: ${path} to ${host.target}:${dir}`})
    }
  }
  if (files.length === 0 && undated.length === 0) summary.line('No camera photos found to be transferred.')
  for (const file of undated) {
    summary.line(`Transfer failed: ${file.source}`)
    log.event('file.failed', {file: file.source, error: file.reason}, 'error')
    if (!dryRun) await context.alert(file.reason!)
  }

  const transport = transportFor({kind: 'ssh', host, configKey: 'hosts.campus'}, config)
  if (files.length > 0 && !dryRun) {
    try {
      await transport.open(signal)
    } catch (error) {
      summary.line(`Could not establish connection to ${host.target}`)
      await context.alert(`could not establish connection to ${host.target}: ${oneLine(error)}`)
      throw error
    }
  }
  try {
    const sent = await sendFiles(context, transport, files, 0o664)
    return {succeeded: sent.succeeded, failed: sent.failed + undated.length, files: [...sent.files, ...undated], source, campus: host.target}
  } finally {
    if (files.length > 0 && !dryRun) await transport.close()
  }
}
