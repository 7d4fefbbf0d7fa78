// Stage transfer-cam-photos (site-linux): camera photos `*cam<N>*.jpg` go to the campus photo tree
// `<camRoot>/<rad>cam/<rad>cam<N>/YYYY/MM/` by the date in the first dot-field of each name,
// mode 664, over the one ssh connection, VERIFIED before the source is deleted (the original
// deleted sources without any check). Cameras come from the config (the original hard-coded
// 210/211/212); a photo without a valid date in its name is quarantined with a reason (the
// original filed it under the camera root, where nobody looks).
import {stat} from 'node:fs/promises'
import {basename} from 'node:path'

import {nameTime} from '../formats/names.js'
import {filesIn} from '../fs/list.js'
import type {Destination} from '../transport/index.js'
import type {StageContext} from './runner.js'
import {type FileToSend, pushFiles, type SentFile} from './send-files.js'

/** Everything transfer-cam-photos needs, resolved by the role layout. */
export interface CamPhotosLayout {
  /** The photo directory on this host. */
  source: string
  cameras: readonly number[]
  /** `<camRoot>/<rad>cam` on the campus host. */
  radarRoot: string
  quarantine: string
  campus: Destination & {kind: 'ssh'}
}

export interface CamPhotosResult {
  succeeded: number
  failed: number
  files: SentFile[]
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
    return null // not a real date (e.g. 20231301): the same answer as no date at all
  }
  return {yyyy: match[1]!, mm: match[2]!}
}

export async function transferCamPhotos(context: StageContext, layout: CamPhotosLayout): Promise<CamPhotosResult> {
  const {summary, radar} = context
  const {source, radarRoot} = layout
  const target = layout.campus.host.target
  summary.line(`Transferring from: ${source}/`)
  summary.line(`Transferring to: ${target}:${radarRoot}/`)
  summary.blank()

  // A site without cameras sets site.cameras to []; otherwise a missing directory is the operator's to fix.
  if (layout.cameras.length === 0) {
    summary.line('No camera photos found to be transferred.')
    return {succeeded: 0, failed: 0, files: [], source, campus: target}
  }
  await stat(source)
  const photos = await filesIn(source, (n) => n.endsWith('.jpg'))
  const files: FileToSend[] = []
  for (const camera of layout.cameras) {
    for (const path of photos.filter((p) => basename(p).includes(`cam${camera}`))) {
      const month = photoMonth(basename(path))
      if (!month) {
        files.push({source: path, destination: null, rejected: `${path}: no valid YYYYMMDD date in the first field of the name`})
        continue
      }
      const dir = `${radarRoot}/${radar}cam${camera}/${month.yyyy}/${month.mm}/`
      files.push({source: path, destination: `${dir}${basename(path)}`, announce: `Transferring: ${path} to ${target}:${dir}`})
    }
  }
  const sent = await pushFiles(context, [{files, whenEmpty: () => summary.line('No camera photos found to be transferred.')}], {
    destination: layout.campus,
    quarantine: layout.quarantine,
    mode: 0o664,
  })
  return {...sent, source, campus: target}
}
