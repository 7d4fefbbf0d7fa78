// The one gateway to h5wasm 0.10.3 (libhdf5 2.0 compiled to WebAssembly). Everything else in the
// product reaches HDF5 through this module, because:
// - h5wasm is ESM-only and costs ~5 MB of wasm and 150–270 ms to instantiate, so it is imported
//   lazily, once per process, on first use (never at the top level of a command module);
// - libhdf5's default error handler prints a multi-line "HDF5-DIAG" stack to stderr and returns a
//   negative id. We install h5wasm's throwing handler instead, so every HDF5 failure becomes an
//   exception, and turn every exception (h5wasm also throws bare strings) into
//   FormatError(file, one-line reason);
// - `.value` builds one JS object per compound element (4.9 s for 2 M complex64); datasets are
//   read here as raw little-endian bytes through Module.get_dataset_data (17× faster) and decoded
//   into typed arrays.
// The throwing handler is process-wide: anyone else using h5wasm in this process gets it too,
// which is what we want (no stderr noise, no silently negative ids).
import type * as H5 from 'h5wasm/node'

import {FormatError} from '../../errors.js'

export type H5Lib = typeof H5
export type H5File = InstanceType<H5Lib['File']>
export type H5Metadata = H5.Metadata

let loading: Promise<H5Lib> | undefined

/** The h5wasm module, ready to use (loaded and initialised once per process). */
export function loadH5wasm(): Promise<H5Lib> {
  loading ??= (async () => {
    const h5 = await import('h5wasm/node')
    await h5.ready
    h5.Module.activate_throwing_error_handler()
    return h5
  })()
  return loading
}

/**
 * One line from whatever h5wasm threw: for an HDF5 error stack, the innermost frame's message
 * (e.g. "truncated file: eof = 800000, … stored_eof = 1662598" or "file signature not found"),
 * else the text itself.
 */
export function h5Reason(thrown: unknown): string {
  const text = thrown instanceof Error ? thrown.message : String(thrown)
  const frames = [...text.matchAll(/#\d+: .*? in [\w.]+\(\): ([^\n]*)\n\s*major: ([^\n]*)\n\s*minor: ([^\n]*)/g)]
  const last = frames.at(-1)
  if (last) {
    const [, message, , minor] = last
    const detail = message!.trim()
    const summary = minor!.trim()
    if (/file signature not found/i.test(detail)) return 'not an HDF5 file (no HDF5 signature)'
    return detail.toLowerCase().startsWith(summary.toLowerCase()) ? `HDF5: ${detail}` : `HDF5: ${summary.toLowerCase()} (${detail})`
  }
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'unknown HDF5 error'
}

/** Whatever h5wasm threw, as FormatError(file, `<context>: <reason>`); FormatErrors pass through. */
export function h5Error(file: string, context: string | null, thrown: unknown): FormatError {
  if (thrown instanceof FormatError) return thrown
  const reason = h5Reason(thrown)
  return new FormatError(file, context ? `${context}: ${reason}` : reason)
}

/** Runs an h5wasm call; anything it throws becomes FormatError(file, `<context>: <reason>`). */
export function h5Call<T>(file: string, context: string | null, call: () => T): T {
  try {
    return call()
  } catch (error) {
    throw h5Error(file, context, error)
  }
}

/**
 * Raw reads into one reusable heap buffer. The emscripten heap only grows, so reusing a buffer
 * sized for the largest dataset keeps memory flat however many records a file has.
 */
export class RawReader {
  private ptr = 0
  private size = 0

  constructor(private readonly h5: H5Lib) {}

  /** Bytes of a whole dataset, little-endian, in the dataset's own element layout (a fresh copy). */
  read(fileId: bigint, path: string, meta: H5Metadata): Uint8Array {
    const nbytes = meta.size * meta.total_size
    if (nbytes === 0) return new Uint8Array(0)
    const module = this.h5.Module
    if (nbytes > module.MAXIMUM_MEMORY) throw new Error(`dataset of ${nbytes} bytes exceeds the HDF5 heap (${module.MAXIMUM_MEMORY} bytes)`)
    if (nbytes > this.size) {
      if (this.ptr) module._free(this.ptr)
      this.ptr = 0
      this.size = 0
      const size = Math.max(nbytes, 64 * 1024)
      const ptr = module._malloc(size)
      if (!ptr) throw new Error(`cannot allocate ${size} bytes on the HDF5 heap`)
      this.ptr = ptr
      this.size = size
    }
    const status = module.get_dataset_data(fileId, path, null, null, null, BigInt(this.ptr))
    if (status < 0) throw new Error(`reading ${path} failed (status ${status})`)
    // HEAPU8 must be looked up after the call: a heap growth replaces the view.
    return module.HEAPU8.slice(this.ptr, this.ptr + nbytes)
  }

  release(): void {
    if (this.ptr) this.h5.Module._free(this.ptr)
    this.ptr = 0
    this.size = 0
  }
}
