// Slack alerts through an incoming webhook, without the original's ways of losing them
// (docs/design.md#slack-alerts-lost).
//
// Contract:
// - The body is JSON.stringify({text}) with content-type application/json (the original built
//   JSON with single quotes and no escaping).
// - Success is a 2xx answer only (the original's curl had no --fail, so HTTP errors counted as
//   sent). 429 waits Retry-After (at most MAX_RETRY_AFTER_MS) and retries; 5xx, timeouts and
//   network errors retry with exponential backoff; any other 4xx is final. At most maxAttempts
//   requests per message.
// - At most one request per minIntervalMs (Slack allows about one message a second per
//   webhook): sends are queued and run one at a time, each request starting at least
//   minIntervalMs after the previous one finished (so the server sees them at least that far apart).
// - Empty text or no webhook: nothing is sent and no request is made.
// - send() never throws, and the webhook URL (a secret: its path is the token) never appears in a
//   returned error; text from underlying errors or response bodies is redacted.
import {BugError} from '../errors.js'
import {sleep} from '../exec.js'
import {summaryTimestamp} from '../log/summary.js'

export interface SlackAlerterOptions {
  webhookUrl?: string
  /** Minimum spacing between requests, at least 1000 ms. */
  minIntervalMs: number
  /** Requests per message, including the first. */
  maxAttempts: number
  /** Per-request timeout. */
  timeoutSeconds: number
  /** Defaults to the global fetch. */
  fetch?: typeof fetch
  /** Stops waits and requests (e.g. the process AbortController). */
  signal?: AbortSignal
}

export interface SendResult {
  sent: boolean
  /** Requests made for this message. */
  attempts: number
  error?: string
}

export const MIN_INTERVAL_MS = 1000
/** A Retry-After longer than this is capped: an alert a minute late beats a stalled queue. */
export const MAX_RETRY_AFTER_MS = 60_000
const MAX_BACKOFF_MS = 30_000
const BODY_EXCERPT_CHARS = 200
const REDACTED = '<webhook>'

/**
 * `YYYYMMDD HH:MM:SS   <rad> - <message>` in UTC; with a stage, `… <stage> <rad> - <message>`
 * (the original's convert_on_campus inserted its name before the radar; it used local time).
 */
export function formatAlert(radar: string, message: string, now: Date = new Date(), stage?: string): string {
  return `${summaryTimestamp(now)}   ${stage ? `${stage} ` : ''}${radar} - ${message}`
}

/** Parses Retry-After (delay-seconds or an HTTP date) into milliseconds, bounded; undefined if absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined
  const value = header.trim()
  let ms: number
  if (/^\d+(\.\d+)?$/.test(value)) ms = Number(value) * 1000
  else {
    const date = Date.parse(value)
    if (Number.isNaN(date)) return undefined
    ms = date - now
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms))
}

/** Things that would reveal the webhook: the URL as given and normalised, its path, its path segments. */
function secretsOf(webhookUrl: string): string[] {
  const secrets = new Set<string>([webhookUrl])
  try {
    const url = new URL(webhookUrl)
    secrets.add(url.href)
    const tail = `${url.pathname}${url.search}`
    if (tail.length > 1) secrets.add(tail)
    for (const segment of url.pathname.split('/')) if (segment.length >= 6) secrets.add(segment)
    for (const value of url.searchParams.values()) if (value.length >= 6) secrets.add(value)
    if (url.password) secrets.add(url.password)
  } catch {
    // Not a URL: only the raw string can be redacted, and it is.
  }
  // Longest first, so that a whole URL is replaced before its parts.
  return [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
}

type Outcome = {ok: true} | {ok: false; error: string; retry: boolean; retryAfterMs?: number}

export class SlackAlerter {
  private readonly secrets: string[]
  private readonly fetchImpl: typeof fetch
  private readonly validUrl: boolean
  private queue: Promise<unknown> = Promise.resolve()
  /** performance.now() when the previous request finished. */
  private lastRequestEnd = Number.NEGATIVE_INFINITY

  constructor(private readonly options: SlackAlerterOptions) {
    if (!(options.minIntervalMs >= MIN_INTERVAL_MS)) {
      throw new BugError(`SlackAlerter: minIntervalMs must be at least ${MIN_INTERVAL_MS} (got ${options.minIntervalMs})`)
    }
    if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
      throw new BugError(`SlackAlerter: maxAttempts must be a positive integer (got ${options.maxAttempts})`)
    }
    if (!(options.timeoutSeconds > 0)) throw new BugError(`SlackAlerter: timeoutSeconds must be positive (got ${options.timeoutSeconds})`)
    this.secrets = options.webhookUrl ? secretsOf(options.webhookUrl) : []
    this.validUrl = options.webhookUrl ? isHttpUrl(options.webhookUrl) : false
    this.fetchImpl = options.fetch ?? globalThis.fetch
  }

  /** Whether a webhook is configured (alerts would be sent). */
  get enabled(): boolean {
    return Boolean(this.options.webhookUrl)
  }

  /** Queues one message; resolves when it was delivered or given up on. Never rejects. */
  send(text: string): Promise<SendResult> {
    if (!this.options.webhookUrl) return Promise.resolve({sent: false, attempts: 0, error: 'not sent: no Slack webhook configured'})
    if (text.trim() === '') return Promise.resolve({sent: false, attempts: 0, error: 'not sent: empty message'})
    if (!this.validUrl) return Promise.resolve({sent: false, attempts: 0, error: 'not sent: the Slack webhook is not an http(s) URL'})
    const result = this.queue.then(() => this.deliver(this.options.webhookUrl!, text))
    this.queue = result.catch(() => undefined)
    return result.catch((error: unknown) => ({sent: false, attempts: 0, error: this.redact(`internal error: ${describe(error)}`)}))
  }

  /** Replaces every form of the webhook URL in `text`. */
  redact(text: string): string {
    let out = text
    for (const secret of this.secrets) out = out.replaceAll(secret, REDACTED)
    return out
  }

  private async deliver(url: string, text: string): Promise<SendResult> {
    const body = JSON.stringify({text})
    let lastError = 'not sent'
    let attempts = 0
    let waitMs = 0
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      try {
        await this.waitTurn(waitMs)
      } catch {
        return {sent: false, attempts, error: `${lastError === 'not sent' ? '' : `${lastError}; `}interrupted`}
      }
      attempts = attempt
      const outcome = await this.post(url, body)
      this.lastRequestEnd = performance.now()
      if (outcome.ok) return {sent: true, attempts}
      lastError = this.redact(outcome.error)
      if (!outcome.retry) break
      waitMs = outcome.retryAfterMs ?? Math.min(MAX_BACKOFF_MS, this.options.minIntervalMs * 2 ** (attempt - 1))
    }
    return {sent: false, attempts, error: `${lastError} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`}
  }

  /** Waits `extraMs` and until minIntervalMs has passed since the previous request finished. */
  private async waitTurn(extraMs: number): Promise<void> {
    const earliest = Math.max(this.lastRequestEnd + this.options.minIntervalMs, performance.now() + extraMs)
    // Timers may fire a fraction of a millisecond early: loop until the clock agrees.
    for (let left = earliest - performance.now(); left > 0; left = earliest - performance.now()) {
      await sleep(Math.ceil(left), this.options.signal)
    }
  }

  private async post(url: string, body: string): Promise<Outcome> {
    const timeout = AbortSignal.timeout(this.options.timeoutSeconds * 1000)
    const signal = this.options.signal ? AbortSignal.any([timeout, this.options.signal]) : timeout
    let response: Response
    try {
      response = await this.fetchImpl(url, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body,
        signal,
        redirect: 'error',
      })
    } catch (error) {
      if (this.options.signal?.aborted) return {ok: false, error: 'interrupted', retry: false}
      if (timeout.aborted) return {ok: false, error: `no answer within ${this.options.timeoutSeconds} s`, retry: true}
      return {ok: false, error: `request failed: ${describe(error)}`, retry: true}
    }
    let excerpt = ''
    try {
      excerpt = (await response.text()).replace(/\s+/g, ' ').trim().slice(0, BODY_EXCERPT_CHARS)
    } catch {
      // The status decides; the body is only for the message.
    }
    if (response.ok) return {ok: true}
    const error = `HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`
    if (response.status === 429) return {ok: false, error, retry: true, retryAfterMs: retryAfterMs(response.headers.get('retry-after'))}
    return {ok: false, error, retry: response.status >= 500}
  }
}

/** An error's message with its causes (fetch hides the useful part, e.g. ECONNREFUSED, in `cause`). */
function describe(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error (or a cause) is shown as String() shows it
    parts.push(current instanceof Error ? current.message : String(current))
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(': ').replace(/\s*\n\s*/g, ' ')
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
