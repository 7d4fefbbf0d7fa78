// One role's chain runs at most once at a time; triggers that arrive while it runs are COALESCED
// into exactly one more run, never dropped. The original dropped them twice over: a 120 s filter
// after each run and `flock --nonblock`, which skipped a stage silently
// (docs/design.md#debounce-drops-triggers, #flock-skips-silently).
//
// Contract: after request() returns 'started', 'queued' or 'coalesced', a run begins no earlier
// than that call and no later than the end of the run in progress. So every trigger is followed by
// a complete run that started after it, and a burst of N triggers costs at most two runs.
// Payloads of coalesced triggers are merged (e.g. the newest Borealis block wins).

export interface Batch<T> {
  /** Why the run happens, one entry per request merged into it (e.g. "flag", "rescan"). */
  reasons: string[]
  payload: T | undefined
  /** When the first request of this batch arrived. */
  since: number
}

export type RequestOutcome = 'started' | 'queued' | 'coalesced' | 'refused'

export interface ChainSchedulerOptions<T> {
  /** The chain itself; it must not throw (a throw is reported through onError and the loop goes on). */
  run: (batch: Batch<T>) => Promise<void>
  /** Combines the payload of a pending batch with a new request's (default: keep the newer one). */
  merge?: (pending: T | undefined, next: T | undefined) => T | undefined
  onError?: (error: unknown) => void
  now?: () => number
}

export class ChainScheduler<T = undefined> {
  private pending: Batch<T> | null = null
  private active: Promise<void> | null = null
  private current: Batch<T> | null = null
  private stopped = false
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly keyed = new Map<string, NodeJS.Timeout>()

  constructor(private readonly options: ChainSchedulerOptions<T>) {}

  /** True while a run is in progress. */
  get running(): boolean {
    return this.current !== null
  }

  /** True when one more run is due (in progress or not). */
  get hasPending(): boolean {
    return this.pending !== null
  }

  /** Idle: nothing running, nothing due. */
  get idle(): boolean {
    return this.active === null && this.pending === null
  }

  request(reason: string, payload?: T): RequestOutcome {
    if (this.stopped) return 'refused'
    const now = (this.options.now ?? Date.now)()
    if (this.pending) {
      this.pending.reasons.push(reason)
      this.pending.payload = this.merge(this.pending.payload, payload)
      return 'coalesced'
    }
    this.pending = {reasons: [reason], payload, since: now}
    if (this.active) return 'queued'
    this.active = this.loop()
    return 'started'
  }

  /**
   * A request `delayMs` from now (e.g. once the settle time of the block that just ended has
   * passed). A later call with the same key replaces the earlier timer, so a burst of triggers
   * leaves one follow-up, `delayMs` after the last.
   */
  requestLater(key: string, delayMs: number, reason: string, payload?: T): void {
    if (this.stopped) return
    const existing = this.keyed.get(key)
    if (existing) {
      clearTimeout(existing)
      this.timers.delete(existing)
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      this.keyed.delete(key)
      this.request(reason, payload)
    }, delayMs)
    this.timers.add(timer)
    this.keyed.set(key, timer)
  }

  private merge(pending: T | undefined, next: T | undefined): T | undefined {
    return this.options.merge ? this.options.merge(pending, next) : (next ?? pending)
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending && !this.stopped) {
        const batch = this.pending
        this.pending = null
        this.current = batch
        try {
          await this.options.run(batch)
        } catch (error) {
          this.options.onError?.(error)
        } finally {
          this.current = null
        }
      }
    } finally {
      this.active = null
    }
  }

  /**
   * Takes no more requests and cancels delayed ones; resolves when the run in progress (if any)
   * has ended. Returns the reasons of a due run that will not happen (for the log).
   */
  async stop(): Promise<string[]> {
    this.stopped = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.keyed.clear()
    const dropped = this.pending?.reasons ?? []
    this.pending = null
    await this.active
    return dropped
  }

  /** Resolves when nothing is running or due (for tests and the demo). */
  async settled(): Promise<void> {
    while (this.active) await this.active
  }
}
