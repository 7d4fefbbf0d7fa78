import assert from 'node:assert/strict'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {after, before, beforeEach, describe, it} from 'node:test'

import {formatAlert, retryAfterMs, SlackAlerter} from '../src/lib/alert/slack.js'

/** One request as the server saw it. */
interface Received {
  at: number
  path: string
  contentType: string | undefined
  body: string
}

type Responder = (n: number, req: Received, res: ServerResponse) => void

/** A real HTTP server on 127.0.0.1 playing Slack: records requests, answers with the current script. */
class FakeSlack {
  received: Received[] = []
  respond: Responder = (_n, _req, res) => res.end('ok')
  private server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.now()
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const entry = {at, path: req.url ?? '', contentType: req.headers['content-type'], body}
      this.received.push(entry)
      this.respond(this.received.length, entry, res)
    })
  })
  port = 0
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as {port: number}).port
  }
  stop(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

const SECRET_PATH = '/services/T0SECRETTEAM/B0SECRETHOOK/xoxSuperSecretToken123'

function reply(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, {'content-type': 'text/plain', ...headers})
  res.end(body)
}

describe('slack: SlackAlerter against a real HTTP server', () => {
  const slack = new FakeSlack()
  let url: string
  const alerter = (extra: Partial<ConstructorParameters<typeof SlackAlerter>[0]> = {}) =>
    new SlackAlerter({webhookUrl: url, minIntervalMs: 1000, maxAttempts: 4, timeoutSeconds: 5, ...extra})

  before(async () => {
    await slack.start()
    url = `http://127.0.0.1:${slack.port}${SECRET_PATH}`
  })
  after(() => slack.stop())
  beforeEach(() => {
    slack.received = []
    slack.respond = (_n, _req, res) => reply(res, 200, 'ok')
  })

  it('posts valid JSON holding exactly the text (quotes, newlines, unicode) as application/json', async () => {
    const text = `He said "stop" and it's done\nline two\t\\back\\slash {not: json} ünïcødé ✓ 🚀`
    const result = await alerter().send(text)
    assert.deepEqual(result, {sent: true, attempts: 1})
    assert.equal(slack.received.length, 1)
    const [request] = slack.received
    assert.equal(request!.path, SECRET_PATH)
    assert.equal(request!.contentType, 'application/json')
    assert.deepEqual(JSON.parse(request!.body), {text})
  })

  it('spaces messages at least minIntervalMs apart as the server sees them, even when sent concurrently', async () => {
    const a = alerter()
    const results = await Promise.all([a.send('first'), a.send('second'), a.send('third')])
    assert.ok(results.every((r) => r.sent))
    assert.deepEqual(slack.received.map((r) => (JSON.parse(r.body) as {text: string}).text), ['first', 'second', 'third'])
    const gaps = slack.received.slice(1).map((r, i) => r.at - slack.received[i]!.at)
    for (const gap of gaps) assert.ok(gap >= 1000, `gap ${gap.toFixed(1)} ms < 1000 ms`)
  })

  it('honours 429 Retry-After: 1 (the retry arrives at least 1 s later), then succeeds', async () => {
    slack.respond = (n, _req, res) => (n === 1 ? reply(res, 429, 'rate_limited', {'retry-after': '1'}) : reply(res, 200, 'ok'))
    const result = await alerter({minIntervalMs: 1000}).send('rate limited once')
    assert.deepEqual(result, {sent: true, attempts: 2})
    assert.equal(slack.received.length, 2)
    assert.ok(slack.received[1]!.at - slack.received[0]!.at >= 1000)
  })

  it('a Retry-After longer than minIntervalMs (2 s) is waited out in full, not just the usual spacing', async () => {
    slack.respond = (n, _req, res) => (n === 1 ? reply(res, 429, 'rate_limited', {'retry-after': '2'}) : reply(res, 200, 'ok'))
    const result = await alerter({minIntervalMs: 1000}).send('rate limited for 2 s')
    assert.deepEqual(result, {sent: true, attempts: 2})
    assert.ok(slack.received[1]!.at - slack.received[0]!.at >= 2000)
  })

  it('retries 500 twice with backoff and succeeds on the third attempt', async () => {
    slack.respond = (n, _req, res) => (n <= 2 ? reply(res, 500, 'internal') : reply(res, 200, 'ok'))
    const result = await alerter().send('flaky server')
    assert.deepEqual(result, {sent: true, attempts: 3})
    assert.equal(slack.received.length, 3)
  })

  it('does not retry a 400, reports it as not sent, and never reveals the webhook URL (even when the server echoes it)', async () => {
    slack.respond = (_n, req, res) => reply(res, 400, `invalid_payload for ${url} at ${req.path}`)
    const result = await alerter().send('bad')
    assert.equal(result.sent, false)
    assert.equal(result.attempts, 1)
    assert.equal(slack.received.length, 1)
    assert.match(result.error ?? '', /HTTP 400/)
    for (const secret of [url, SECRET_PATH, 'xoxSuperSecretToken123', 'B0SECRETHOOK']) {
      assert.ok(!result.error!.includes(secret), `error reveals ${secret}: ${result.error}`)
    }
  })

  it('gives up after maxAttempts on a refused connection, without the URL in the error', async () => {
    const closed = new FakeSlack()
    await closed.start()
    await closed.stop()
    const deadUrl = `http://127.0.0.1:${closed.port}${SECRET_PATH}`
    const result = await new SlackAlerter({webhookUrl: deadUrl, minIntervalMs: 1000, maxAttempts: 2, timeoutSeconds: 2}).send('nobody home')
    assert.equal(result.sent, false)
    assert.equal(result.attempts, 2)
    assert.match(result.error!, /ECONNREFUSED/)
    assert.ok(!result.error!.includes('SECRET') && !result.error!.includes('xoxSuperSecretToken123'), result.error)
  })

  it('a server that never answers is cut off by timeoutSeconds (no-timeouts)', async () => {
    slack.respond = () => {} // never reply
    const started = performance.now()
    const result = await alerter({timeoutSeconds: 0.5, maxAttempts: 1}).send('hello?')
    assert.equal(result.sent, false)
    assert.match(result.error!, /no answer within 0.5 s/)
    assert.ok(performance.now() - started < 2000)
  })

  it('sends nothing for empty text or without a webhook, and never echoes an invalid webhook', async () => {
    assert.deepEqual((await alerter().send('  \n')).sent, false)
    assert.equal((await new SlackAlerter({minIntervalMs: 1000, maxAttempts: 1, timeoutSeconds: 1}).send('x')).attempts, 0)
    const bad = await new SlackAlerter({webhookUrl: 'not a url/xoxSecret', minIntervalMs: 1000, maxAttempts: 1, timeoutSeconds: 1}).send('x')
    assert.equal(bad.sent, false)
    assert.ok(!bad.error!.includes('xoxSecret'))
    assert.equal(slack.received.length, 0)
  })
})

describe('slack: formatting and parsing', () => {
  const when = new Date('2024-03-01T04:05:06Z')
  it('formatAlert is `YYYYMMDD HH:MM:SS   <rad> - <message>` in UTC', () => {
    assert.equal(formatAlert('sas', 'timestamp check failed', when), '20240301 04:05:06   sas - timestamp check failed')
  })
  it('formatAlert puts the stage before the radar when given', () => {
    assert.equal(formatAlert('pgr', 'conversion failed', when, 'convert_on_campus'), '20240301 04:05:06   convert_on_campus pgr - conversion failed')
  })
  it('retryAfterMs reads seconds and HTTP dates, bounded to 60 s', () => {
    assert.equal(retryAfterMs('1'), 1000)
    assert.equal(retryAfterMs('3600'), 60_000)
    assert.equal(retryAfterMs(null), undefined)
    assert.equal(retryAfterMs('soon'), undefined)
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 5_000), 5_000)
  })
  it('refuses a minIntervalMs under 1000', () => {
    assert.throws(() => new SlackAlerter({minIntervalMs: 999, maxAttempts: 1, timeoutSeconds: 1}))
  })
})
