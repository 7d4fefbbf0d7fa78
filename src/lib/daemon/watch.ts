// Watching a directory for the daemons: which new files appeared.
// inotify through node-inotify reports the events the original's inotifywait used (IN_CREATE for
// new Borealis files, IN_MOVED_TO for flags that rsync renames into place); fs.watch cannot tell a
// create from a move-in or a close-write, and chokidar guesses completeness from sizes. Where
// inotify sees nothing — a network file system, whose changes made by other hosts produce no
// events — the same directory is polled instead (listing diff).
//
// Contracts:
// - The watcher only REPORTS; deciding what a file means is the caller's job. Events are hints,
//   never the only record: the caller's reconcile rescan finds what an event missed.
// - A lost event queue (IN_Q_OVERFLOW) is reported as `overflow`: the caller must rescan, because
//   any number of events are gone. A recursive watch then also re-walks the tree, so directories
//   created during the overflow get their watches.
// - Recursive watches add a watch to every new subdirectory and report the accepted files already
//   inside it (they may have been written before the watch existed). Hidden directories and those
//   `skipDirectory` names are not descended into.
// - Handlers never throw into the native addon (an exception there would end the process): errors
//   are caught and reported through `problem`.
import {readdir, stat, statfs} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {oneLine} from '../errors.js'

export type InotifyEventKind = 'create' | 'moved-to' | 'close-write'
export type FileEventKind = InotifyEventKind | 'poll'

export interface WatchSpec {
  /** Absolute directory to watch; it must exist. */
  dir: string
  recursive: boolean
  /** Which inotify events count for files (polling reports every new or replaced file). */
  events: readonly InotifyEventKind[]
  /** File names (base names) that count. */
  accept: (name: string) => boolean
  /** Full paths of directories not to descend into (e.g. a quarantine inside the data directory). */
  skipDirectory?: (path: string) => boolean
}

export interface WatchHandlers {
  /** An accepted file appeared (created, moved in, or written and closed; or seen new by a poll). */
  file: (path: string, kind: FileEventKind) => void
  /** Events were lost: rescan everything. */
  overflow: () => void
  /** Something went wrong; `lost` = the watch on the root is gone (the caller re-creates the watcher). */
  problem: (message: string, lost: boolean) => void
}

export interface Watcher {
  readonly mode: 'inotify' | 'poll'
  /** Why the directory is polled (null for inotify). */
  readonly pollReason: string | null
  /** False once the watch on the root directory is gone (deleted, unmounted). */
  readonly alive: boolean
  close(): void
}

export interface WatchOptions {
  /** Poll even where inotify works (the daemon's --poll). */
  forcePoll?: boolean
  pollIntervalMs: number
}

// ---- file-system type ---------------------------------------------------------------------

/**
 * statfs f_type magic numbers (linux/magic.h and the file systems' own headers) of file systems
 * whose contents other machines change: inotify only sees changes made through this kernel.
 */
const NETWORK_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x517b, 'smb'],
  [0x564c, 'ncp'],
  [0x5346414f, 'afs'],
  [0x6b414653, 'kafs'],
  [0x00c36400, 'ceph'],
  [0x01021997, '9p'],
  [0x47504653, 'gpfs'],
  [0x0bd00bd0, 'lustre'],
  [0x19830326, 'fhgfs/beegfs'],
  [0x65735546, 'fuse (e.g. sshfs)'],
])

/** The network file system's name for a statfs type, or null for a local one. */
export function networkFileSystemName(type: number | bigint): string | null {
  // Some platforms report f_type sign-extended; compare the low 32 bits.
  const magic = Number(BigInt.asUintN(32, BigInt(type)))
  return NETWORK_FILE_SYSTEMS.get(magic) ?? null
}

/** Why `dir` must be polled (it is on a network file system), or null. */
export async function pollReasonFor(dir: string): Promise<string | null> {
  const info = await statfs(dir)
  const name = networkFileSystemName(info.type)
  return name ? `${dir} is on ${name} (statfs type 0x${(Number(info.type) >>> 0).toString(16)}): inotify does not see changes made by other hosts` : null
}

// ---- node-inotify ---------------------------------------------------------------------------

export interface InotifyEvent {
  watch: number
  mask: number
  cookie: number
  name?: string
}

export interface InotifyInstance {
  addWatch(arg: {path: string; watch_for: number; callback: (event: InotifyEvent) => void}): number
  removeWatch(wd: number): boolean
  close(): boolean
  /** The addon looks callbacks up on the instance by watch descriptor; see OVERFLOW_WD. */
  [wd: number]: ((event: InotifyEvent) => void) | undefined
}

interface InotifyConstants {
  IN_CREATE: number
  IN_MOVED_TO: number
  IN_CLOSE_WRITE: number
  IN_ISDIR: number
  IN_Q_OVERFLOW: number
  IN_IGNORED: number
  IN_UNMOUNT: number
  IN_ONLYDIR: number
}

export interface InotifyModule {
  Inotify: (new (persistent?: boolean) => InotifyInstance) & InotifyConstants
}

/**
 * node-inotify dispatches each event to the callback stored on the instance under the event's
 * watch descriptor. IN_Q_OVERFLOW carries descriptor -1, for which nothing is stored, and a failed
 * addWatch stores its callback under -1 too. So the overflow handler is (re)installed under -1
 * after every addWatch.
 */
const OVERFLOW_WD = -1

let inotifyModule: InotifyModule | undefined
/** node-inotify, loaded once (the doctor's check uses the same loader as the daemon). */
export function loadInotify(): InotifyModule {
  // A native CommonJS addon without type declarations (also inside the single executable).
  inotifyModule ??= createRequire(import.meta.url)('node-inotify') as InotifyModule
  return inotifyModule
}

const isHidden = (name: string) => name.startsWith('.')
/** Removed between listing and reading: a normal race, not a problem. */
const vanished = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')

class InotifyWatcher implements Watcher {
  readonly mode = 'inotify'
  readonly pollReason = null
  alive = true
  private readonly inotify: InotifyInstance
  private readonly constants: InotifyConstants
  private readonly fileMask: number
  private readonly dirs = new Map<number, string>()
  private readonly watched = new Set<string>()
  private closed = false

  constructor(
    private readonly spec: WatchSpec,
    private readonly handlers: WatchHandlers,
  ) {
    const {Inotify} = loadInotify()
    this.constants = Inotify
    this.inotify = new Inotify(true)
    const kinds: Record<InotifyEventKind, number> = {create: Inotify.IN_CREATE, 'moved-to': Inotify.IN_MOVED_TO, 'close-write': Inotify.IN_CLOSE_WRITE}
    let mask = 0
    for (const kind of spec.events) mask |= kinds[kind]
    // New subdirectories show up as a create or a move-in of a directory.
    if (spec.recursive) mask |= Inotify.IN_CREATE | Inotify.IN_MOVED_TO
    this.fileMask = mask | Inotify.IN_ONLYDIR
  }

  async start(): Promise<void> {
    if (this.add(this.spec.dir) === null) {
      const info = await stat(this.spec.dir).catch((error: NodeJS.ErrnoException) => error)
      const why = info instanceof Error ? info.message : info.isDirectory() ? 'inotify_add_watch failed (fs.inotify.max_user_watches?)' : 'not a directory'
      this.close()
      throw new Error(`cannot watch ${this.spec.dir}: ${why}`)
    }
    if (this.spec.recursive) await this.walk(this.spec.dir, false)
  }

  /** Adds a watch; null when the kernel refused (the directory vanished, or out of watches). */
  private add(dir: string): number | null {
    if (this.closed || this.watched.has(dir)) return null
    const wd = this.inotify.addWatch({path: dir, watch_for: this.fileMask, callback: (event) => this.safely(() => this.onEvent(dir, event))})
    this.inotify[OVERFLOW_WD] = (event) => this.safely(() => this.onOverflow(event))
    if (wd < 0) return null
    this.dirs.set(wd, dir)
    this.watched.add(dir)
    return wd
  }

  private skip(path: string, name: string): boolean {
    return isHidden(name) || (this.spec.skipDirectory?.(path) ?? false)
  }

  /** Watches every directory below `dir`; with `report`, reports the accepted files found. */
  private async walk(dir: string, report: boolean): Promise<void> {
    let entries
    try {
      entries = await readdir(dir, {withFileTypes: true})
    } catch (error) {
      if (vanished(error)) return // removed meanwhile: nothing to watch
      // EACCES and the like: files below will not be seen by events; the rescan still finds them.
      this.handlers.problem(`cannot list ${oneLine(error)}; files below it are found by the rescans only`, false)
      return
    }
    for (const entry of entries) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (this.skip(path, entry.name)) continue
        if (!this.watched.has(path)) {
          if (this.add(path) === null && !this.closed) this.handlers.problem(`cannot watch ${path} (vanished, or fs.inotify.max_user_watches reached)`, false)
          await this.walk(path, true)
        } else {
          await this.walk(path, report)
        }
      } else if (report && entry.isFile() && this.spec.accept(entry.name)) {
        this.handlers.file(path, 'create')
      }
    }
  }

  private onEvent(dir: string, event: InotifyEvent): void {
    const c = this.constants
    if (this.closed) return
    if (event.mask & c.IN_IGNORED) {
      // The watch is gone: its directory was deleted or unmounted.
      this.dirs.delete(event.watch)
      this.watched.delete(dir)
      if (dir === this.spec.dir) {
        this.alive = false
        this.handlers.problem(`the watch on ${dir} is gone (directory deleted, moved or unmounted)`, true)
      }
      return
    }
    if (event.name === undefined) return
    const path = join(dir, event.name)
    if (event.mask & c.IN_ISDIR) {
      if (this.spec.recursive && event.mask & (c.IN_CREATE | c.IN_MOVED_TO) && !this.skip(path, event.name)) {
        this.add(path)
        void this.walk(path, true).catch((error: unknown) => this.handlers.problem(`cannot list ${path}: ${oneLine(error)}`, false))
      }
      return
    }
    const kind: InotifyEventKind | null =
      event.mask & c.IN_CREATE ? 'create' : event.mask & c.IN_MOVED_TO ? 'moved-to' : event.mask & c.IN_CLOSE_WRITE ? 'close-write' : null
    if (kind && this.spec.events.includes(kind) && this.spec.accept(event.name)) this.handlers.file(path, kind)
  }

  private onOverflow(event: InotifyEvent): void {
    if (this.closed || !(event.mask & this.constants.IN_Q_OVERFLOW)) return
    this.handlers.overflow()
    if (this.spec.recursive) {
      // Directories made while events were dropped have no watch yet.
      void this.walk(this.spec.dir, false).catch((error: unknown) => this.handlers.problem(`cannot re-walk ${this.spec.dir}: ${oneLine(error)}`, false))
    }
  }

  private safely(body: () => void): void {
    try {
      body()
    } catch (error) {
      try {
        this.handlers.problem(`watch handler failed: ${error instanceof Error ? error.message : String(error)}`, false)
      } catch {
        // Nothing may escape into the addon.
      }
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.alive = false
    try {
      this.inotify.close()
    } catch {
      // Already closed.
    }
  }
}

// ---- polling ----------------------------------------------------------------------------------

/** What identifies one version of a file: a replaced file (rename over it) is new again. */
type Signature = string

class PollWatcher implements Watcher {
  readonly mode = 'poll'
  alive = true
  private timer: NodeJS.Timeout | undefined
  private known = new Map<string, Signature>()
  private polling = false
  private closed = false

  constructor(
    private readonly spec: WatchSpec,
    private readonly handlers: WatchHandlers,
    private readonly intervalMs: number,
    readonly pollReason: string,
  ) {}

  async start(): Promise<void> {
    const info = await stat(this.spec.dir)
    if (!info.isDirectory()) throw new Error(`cannot watch ${this.spec.dir}: not a directory`)
    // The first listing is the baseline: files already there are the caller's start-up reconcile's.
    this.known = await this.list()
    this.timer = setInterval(() => void this.poll(), this.intervalMs)
  }

  private async list(): Promise<Map<string, Signature>> {
    const found = new Map<string, Signature>()
    const walk = async (dir: string, depth: number): Promise<void> => {
      let entries
      try {
        entries = await readdir(dir, {withFileTypes: true})
      } catch (error) {
        if (depth === 0) throw error
        if (!vanished(error)) this.handlers.problem(`cannot list ${oneLine(error)}`, false)
        return
      }
      for (const entry of entries) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) {
          if (this.spec.recursive && !isHidden(entry.name) && !(this.spec.skipDirectory?.(path) ?? false)) await walk(path, depth + 1)
        } else if (entry.isFile() && this.spec.accept(entry.name)) {
          const info = await stat(path).catch((error: unknown) => {
            if (vanished(error)) return null
            throw error
          })
          if (info) found.set(path, `${info.ino}:${info.mtimeMs}:${info.size}`)
        }
      }
    }
    await walk(this.spec.dir, 0)
    return found
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return
    this.polling = true
    try {
      const now = await this.list()
      if (this.closed) return
      for (const [path, signature] of now) {
        if (this.known.get(path) !== signature) this.handlers.file(path, 'poll')
      }
      this.known = now
      this.alive = true
    } catch (error) {
      this.alive = false
      this.handlers.problem(`cannot list ${oneLine(error)}`, true)
    } finally {
      this.polling = false
    }
  }

  close(): void {
    this.closed = true
    this.alive = false
    if (this.timer) clearInterval(this.timer)
  }
}

/**
 * Starts watching `spec.dir`: inotify, or polling every `pollIntervalMs` when the directory is on a
 * network file system or `forcePoll` is set. Rejects when the directory cannot be watched.
 */
export async function watchDirectory(spec: WatchSpec, handlers: WatchHandlers, options: WatchOptions): Promise<Watcher> {
  const reason = options.forcePoll ? 'polling requested (--poll)' : await pollReasonFor(spec.dir)
  if (reason) {
    const watcher = new PollWatcher(spec, handlers, options.pollIntervalMs, reason)
    await watcher.start()
    return watcher
  }
  const watcher = new InotifyWatcher(spec, handlers)
  await watcher.start()
  return watcher
}
