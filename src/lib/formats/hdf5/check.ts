// `hdf5 check`: the replacement for `h5stat FILE` in distribute_borealis_data. Opens the file and
// every group, and reads every dataset whole (so each compressed chunk is inflated): a truncated
// or damaged file fails with one line naming the file and the first broken object. Any valid
// HDF5 file passes, as with h5stat; for a Borealis v1.0+ file the result also says what it holds.
// In a file with a /metadata group (Borealis v1.0+), the hard links every record carries to the
// /metadata datasets are checked to resolve but not read again: /metadata itself is read once.
import {resolve} from 'node:path'

import {FormatError, oneLine} from '../../errors.js'
import {type BorealisFileType, checkReadable, openBorealisFile, readDataset} from './borealis.js'
import {h5Call, loadH5wasm, RawReader} from './h5wasm.js'

export interface Hdf5CheckResult {
  file: string
  ok: boolean
  /** One line naming the file, when not ok. */
  reason?: string
  groups: number
  datasets: number
  /** Bytes of dataset data read (uncompressed). */
  bytes: number
  /** What the file is, when it is a readable Borealis v1.0+ file. */
  borealis?: {type: BorealisFileType; version: string; records: number}
}

export async function checkHdf5File(path: string): Promise<Hdf5CheckResult> {
  const result: Hdf5CheckResult = {file: path, ok: false, groups: 0, datasets: 0, bytes: 0}
  try {
    await checkReadable(path)
    await walk(path, result)
    result.ok = true
  } catch (error) {
    result.reason = error instanceof FormatError ? error.message : `${path}: ${oneLine(error)}`
    return result
  }
  try {
    const borealis = await openBorealisFile(path)
    result.borealis = {type: borealis.type, version: borealis.version.gitHash, records: borealis.recordNames.length}
    borealis.close()
  } catch {
    // Valid HDF5 but not a Borealis v1.0+ file: still a pass, as with h5stat.
  }
  return result
}

async function walk(path: string, result: Hdf5CheckResult): Promise<void> {
  const h5 = await loadH5wasm()
  const file = h5Call(path, null, () => new h5.File(resolve(path), 'r'))
  const raw = new RawReader(h5)
  const {Module} = h5
  try {
    const borealis = h5Call(path, null, () => Module.get_type(file.file_id, '/metadata') === Module.H5G_GROUP)
    const metadataNames = new Set(borealis ? h5Call(path, '/metadata', () => Module.get_names(file.file_id, '/metadata', false)) : [])
    const visit = (group: string, depth: number) => {
      result.groups++
      const names = h5Call(path, group, () => Module.get_names(file.file_id, group, false)).sort()
      for (const name of names) {
        const child = group === '/' ? `/${name}` : `${group}/${name}`
        const type = h5Call(path, child, () => Module.get_type(file.file_id, child))
        if (type === Module.H5G_GROUP) {
          visit(child, depth + 1)
        } else if (type === Module.H5G_DATASET) {
          const hardLinkToMetadata = borealis && depth === 1 && group !== '/metadata' && metadataNames.has(name)
          if (hardLinkToMetadata) continue
          const value = h5Call(path, child, () => readDataset(h5, file, raw, child))
          result.datasets++
          if (value.kind !== 'other') result.bytes += value.data.length * ('BYTES_PER_ELEMENT' in value.data ? value.data.BYTES_PER_ELEMENT : 1)
        } else if (type < 0) {
          throw new FormatError(path, `${child}: link does not resolve`)
        }
      }
    }
    visit('/', 0)
  } finally {
    raw.release()
    try {
      file.close()
    } catch {
      // nothing more to release
    }
  }
}
