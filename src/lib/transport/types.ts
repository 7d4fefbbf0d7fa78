// The transport contract. Every implementation (local file system / mounted NAS, rsync over ssh)
// passes the same conformance suite (test/transport.conformance.ts). Stages never talk to rsync,
// ssh or the file system for destination writes directly: they use a Transport, through
// moveVerified/sendVerifiedWithResend (./verified-move.ts) — also for local moves and quarantine.
//
// What stages do write WITHOUT a transport, on purpose (each is written with writeFileAtomic's
// temp → fsync → rename, so it is never seen half-written):
// - their own logs, summaries, locks and state (the runner does this, not the stage body);
// - a product made from an input, next to the input, before it is moved: the .rawacf.bz2 that
//   rsync-to-nas compresses, the DMAP that convert-on-campus converts, the JPEGs that
//   plot-antennas-iq renders into the plot directory;
// - the `<name>.reason` file beside a quarantined file;
// - the deletion of a source, which only moveVerified does, after every copy verified.
//
// Contracts:
// - put() is durable and verified: the bytes go to a temporary name in the destination directory
//   (never --inplace/--append), are fsynced, renamed atomically into place, the directory is
//   fsynced, and the destination is re-read and hashed where it lives (remote: md5sum/sha256sum
//   run on the remote host over the same connection). Only a put that returned has a proven copy.
// - Missing parent directories are created.
// - Destination exists with identical content → outcome 'identical', nothing written (idempotent).
// - Destination exists with different content → ConflictError and the destination is left
//   untouched, unless onConflict is 'replace', in which case the new copy replaces it atomically
//   (the re-send of a known-bad copy).
// - A copy whose re-read hash differs from the source's is removed and reported as VerifyError.
// - Errors: UnreachableError / ExternalToolError with transient = true for timeouts, dropped
//   connections (ssh 255) and rsync's partial-transfer codes; permanent (transient = false) for
//   permissions, missing space, bad paths. Classified by exit code, never by message text.
// - Sources are never modified or deleted by a transport: deleting the source after a verified
//   put is the caller's decision (see moveVerified in ./verified-move.ts).
// - open() is idempotent; close() releases everything (ssh: the one multiplexed connection).
import type {HashAlgorithm} from '../hash.js'

export interface PutOptions {
  algorithm: HashAlgorithm
  /** File mode of the destination (e.g. 0o664); default: keep the source's permission bits. */
  mode?: number
  /**
   * Group of the destination file, set on the temporary copy before the rename (the file never
   * appears with the wrong group). Local transport only: the ssh transport rejects it.
   */
  group?: string
  /** What to do when the destination exists with different content (default 'error'). */
  onConflict?: 'error' | 'replace'
  signal?: AbortSignal
}

export interface PutResult {
  outcome: 'copied' | 'identical'
  /** Hash of the destination, re-read where it lives after the rename. */
  hash: string
  /** Hash of the source, read before sending. */
  sourceHash: string
  bytes: number
}

export interface Transport {
  readonly kind: 'local' | 'ssh'
  /** For logs and summaries: `/borealis_nfs/borealis_data/x` or `user@host:/sddata/sas_data/x`. */
  describe(destPath: string): string
  open(signal?: AbortSignal): Promise<void>
  close(): Promise<void>
  /** Copies a local file to the absolute destination path; see the contracts above. */
  put(localPath: string, destPath: string, options: PutOptions): Promise<PutResult>
  /** Hash of a destination file computed where it lives, or null when it does not exist. */
  hash(destPath: string, algorithm: HashAlgorithm, signal?: AbortSignal): Promise<string | null>
  /**
   * Whether a destination directory exists (false when absent or not a directory). put() creates
   * missing parents below it; callers check the roots they must not create (an unmounted disk).
   */
  isDirectory(destDir: string, signal?: AbortSignal): Promise<boolean>
  /** Creates a destination directory and its parents (idempotent). */
  mkdir(destDir: string, signal?: AbortSignal): Promise<void>
  /** Removes a destination file; absent is not an error. */
  remove(destPath: string, signal?: AbortSignal): Promise<void>
}
