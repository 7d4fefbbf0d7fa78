// The no-loss invariant, checked on the real directory trees of a world:
//   lost                every input is byte-identical (sha256) in at least one durable place: its
//                       source, a final destination or a quarantine/failure directory (a compressed
//                       copy counts when it decompresses to the input's bytes);
//   partial_visible     no file under a final (non-hidden) name that is not byte-identical to an
//                       expected output or an input (hidden names — `.…dataflow-tmp-…`, rsync's
//                       `.name.XXXXXX` — are temporary and only reported);
//   deleted_unverified  an input whose source is gone has every copy the stage promises (or a
//                       quarantined copy); a source gone with only some of its copies, or none, is
//                       a deletion before verification;
//   corrupt             a file at an expected output path (or an input's own source path) whose
//                       content is not what it must be;
//   not_delivered       (final check only) every good input is at all its final places, and its
//                       source is gone unless it is meant to stay.
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {lstatSync, readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {join, relative} from 'node:path'

/** What a file must hold: these exact bytes, or a bzip2 stream of them. */
export type Content = {sha256: string} | {bz2: string}

export interface Input {
  /** The name as found (JSON-quoted when printed). */
  name: string
  /** Absolute path where the input was placed. */
  source: string
  /** sha256 of the input's bytes (for a symlink: of its target). */
  sha256: string
  /** Places it must reach (all of them) in a clean run; [] when the outcome is not predicted. */
  expect: string[]
  /** Expected content at each path of `expect`, and at derived intermediate paths (e.g. the .bz2 beside a .rawacf). */
  outputs: Record<string, Content>
  /** The source is meant to stay where it is (skipped, left in place). */
  stays?: boolean
  /** Must be delivered after the clean re-run (false for hostile inputs whose fate is only recorded). */
  good: boolean
  /** A symlink: the link is `source`, its target (outside the world) holds `sha256`. */
  symlinkTarget?: string
}

export interface ScanRoot {
  path: string
  kind: 'source' | 'final' | 'quarantine'
}

export interface FileSeen {
  path: string
  root: ScanRoot
  sha256: string
  size: number
  hidden: boolean
}

export interface Snapshot {
  files: Map<string, FileSeen>
  symlinks: Map<string, string>
}

export interface Violations {
  lost: string[]
  corrupt: string[]
  partial_visible: string[]
  deleted_unverified: string[]
  not_delivered: string[]
  /** Not violations: hidden temporary files, and byte-identical copies in unexpected places. */
  temps: string[]
  misplaced: string[]
}

export const COUNTED = ['lost', 'corrupt', 'partial_visible', 'deleted_unverified'] as const

export function emptyViolations(): Violations {
  return {lost: [], corrupt: [], partial_visible: [], deleted_unverified: [], not_delivered: [], temps: [], misplaced: []}
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

const bz2Cache = new Map<string, string | null>()

/** sha256 of the decompressed bytes of a bzip2 file, or null when it does not decompress. */
function bunzip2Sha(file: FileSeen, view: (p: string) => string): string | null {
  if (bz2Cache.has(file.sha256)) return bz2Cache.get(file.sha256)!
  const result = spawnSync('bzip2', ['-dc'], {input: readFileSync(view(file.path)), maxBuffer: 1 << 28})
  const value = result.status === 0 ? sha256(result.stdout) : null
  bz2Cache.set(file.sha256, value)
  return value
}

/** Reads every regular file below the roots (symlinks are recorded, never followed). `view` maps a path to where it can be read (a mount namespace's /proc/PID/root). */
export function scan(roots: readonly ScanRoot[], view: (p: string) => string = (p) => p): Snapshot {
  const files = new Map<string, FileSeen>()
  const symlinks = new Map<string, string>()
  const walk = (dir: string, root: ScanRoot) => {
    let names: string[]
    try {
      names = readdirSync(view(dir))
    } catch {
      return
    }
    for (const name of names) {
      const path = join(dir, name)
      let info
      try {
        info = lstatSync(view(path))
      } catch {
        continue
      }
      if (info.isSymbolicLink()) symlinks.set(path, readlinkSync(view(path)))
      else if (info.isDirectory()) walk(path, root)
      else if (info.isFile() && !files.has(path)) {
        let bytes: Buffer
        try {
          bytes = readFileSync(view(path))
        } catch {
          continue
        }
        files.set(path, {path, root, sha256: sha256(bytes), size: bytes.length, hidden: name.startsWith('.')})
      }
    }
  }
  // Deeper roots first, so a file is attributed to the most specific root.
  for (const root of [...roots].sort((a, b) => b.path.length - a.path.length)) walk(root.path, root)
  return {files, symlinks}
}

export interface CheckOptions {
  phase: 'kill' | 'final'
  view?: (p: string) => string
  /** Paths are printed relative to this. */
  base: string
}

/** Checks one snapshot of a world against its inputs. */
export function check(inputs: readonly Input[], roots: readonly ScanRoot[], options: CheckOptions): {violations: Violations; snapshot: Snapshot} {
  const view = options.view ?? ((p: string) => p)
  const snapshot = scan(roots, view)
  const v = emptyViolations()
  const rel = (p: string) => relative(options.base, p) || p
  const matches = (file: FileSeen | undefined, content: Content): boolean => {
    if (!file) return false
    if ('sha256' in content) return file.sha256 === content.sha256
    return bunzip2Sha(file, view) === content.bz2
  }
  const expectedAt = new Map<string, Content>()
  for (const input of inputs) for (const [path, content] of Object.entries(input.outputs)) expectedAt.set(path, content)
  const sources = new Map(inputs.map((i) => [i.source, i]))
  const visible = [...snapshot.files.values()].filter((f) => !f.hidden)
  const inputShas = new Set(inputs.map((i) => i.sha256))
  const outputShas = new Set([...expectedAt.values()].map((c) => ('sha256' in c ? c.sha256 : c.bz2)))

  // Every visible file: where it is decides what it must hold.
  for (const file of visible) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1)
    if (file.root.kind === 'quarantine' && name.endsWith('.reason')) continue
    const input = sources.get(file.path)
    if (input && !input.symlinkTarget) {
      if (file.sha256 !== input.sha256) v.corrupt.push(`${rel(file.path)}: the source itself changed`)
      continue
    }
    const want = expectedAt.get(file.path)
    if (want) {
      if (!matches(file, want)) v.corrupt.push(`${rel(file.path)}: content differs from what it must hold`)
      continue
    }
    // An unexpected path: harmless if it is a copy of an input or of an expected output.
    const decompressed = name.endsWith('.bz2') ? bunzip2Sha(file, view) : null
    const known = inputShas.has(file.sha256) || outputShas.has(file.sha256) || (decompressed !== null && (inputShas.has(decompressed) || outputShas.has(decompressed)))
    if (!known) v.partial_visible.push(`${rel(file.path)}: not byte-identical to any input or expected output (${file.size} bytes)`)
    else if (file.root.kind === 'final') v.misplaced.push(rel(file.path))
  }
  for (const file of snapshot.files.values()) if (file.hidden && !sources.has(file.path)) v.temps.push(rel(file.path))

  for (const input of inputs) {
    const label = `${JSON.stringify(input.name).slice(0, 80)}`
    const asInput: Content[] = [{sha256: input.sha256}, {bz2: input.sha256}]
    const sourceFile = snapshot.files.get(input.source)
    const sourceOk = input.symlinkTarget ? snapshot.symlinks.get(input.source) === input.symlinkTarget : sourceFile?.sha256 === input.sha256
    const copies = visible.filter((f) => f.path !== input.source && (f.sha256 === input.sha256 || (f.path.endsWith('.bz2') && asInput.some((c) => matches(f, c)))))
    if (!sourceOk && copies.length === 0) v.lost.push(`${label}: no byte-identical copy anywhere (source ${sourceFile ? 'changed' : 'gone'})`)
    const present = input.expect.filter((p) => matches(snapshot.files.get(p), input.outputs[p] ?? {sha256: input.sha256}))
    if (!sourceOk && !input.stays) {
      const quarantined = copies.some((f) => f.root.kind === 'quarantine')
      const complete = input.expect.length > 0 && present.length === input.expect.length
      if (!complete && !quarantined) {
        if (present.length > 0) v.deleted_unverified.push(`${label}: source gone with only ${present.length} of its ${input.expect.length} copies (${input.expect.filter((p) => !present.includes(p)).map(rel).join(', ')} missing)`)
        else if (copies.some((f) => f.root.kind === 'final')) v.misplaced.push(`${label} → ${copies.map((f) => rel(f.path)).join(', ')}`)
        else if (copies.length > 0) v.deleted_unverified.push(`${label}: source gone, copies only at ${copies.map((f) => rel(f.path)).join(', ')}`)
        else v.deleted_unverified.push(`${label}: source gone, no verified copy in a final place`)
      }
    }
    if (options.phase === 'final' && input.good) {
      const missing = input.expect.filter((p) => !present.includes(p))
      const stillThere = !input.stays && sourceOk && input.expect.some((p) => p !== input.source)
      if (missing.length > 0 || stillThere) {
        const where = [...(sourceOk ? ['its source'] : []), ...copies.map((f) => rel(f.path))].join(', ') || 'nowhere'
        v.not_delivered.push(`${label}: ${missing.length > 0 ? `missing at ${missing.map(rel).join(', ')}` : 'source not removed'}; it is at ${where}`)
      }
    }
  }
  return {violations: v, snapshot}
}

export function mergeViolations(into: Violations, from: Violations, tag: string): void {
  for (const key of Object.keys(into) as Array<keyof Violations>) {
    for (const item of from[key]) {
      const line = `${tag}: ${item}`
      if (!into[key].some((x) => x.slice(x.indexOf(': ') + 2) === item)) into[key].push(line)
    }
  }
}
