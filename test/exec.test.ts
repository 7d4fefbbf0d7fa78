import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {ExternalToolError, InterruptedError} from '../src/lib/errors.js'
import {run, withRetry} from '../src/lib/exec.js'
import {eventually} from './helpers/wait.js'

describe('exec: the only spawner', () => {
  it('passes arguments verbatim, never through a shell', async () => {
    const evil = `a b; echo pwned $(id) \`x\` 'q' "d" \n*`
    const {stdout} = await run(['printf', '%s', evil])
    assert.equal(stdout, evil)
  })

  it('gives stdin /dev/null unless input is given', async () => {
    assert.equal((await run(['cat'])).stdout, '')
    assert.equal((await run(['cat'], {input: 'hello'})).stdout, 'hello')
  })

  it('reports exit code, argv and the stderr tail', async () => {
    await assert.rejects(run(['sh', '-c', 'echo first >&2; echo "the reason" >&2; exit 3']), (error: unknown) => {
      assert.ok(error instanceof ExternalToolError)
      assert.equal(error.details.code, 3)
      assert.match(error.message, /exit code 3: the reason$/)
      assert.match(error.details.stderrTail, /first\nthe reason/)
      assert.equal(error.transient, false)
      return true
    })
  })

  it('classifies by exit code, not by message', async () => {
    await assert.rejects(run(['sh', '-c', 'exit 255'], {transientCodes: [255]}), (e: ExternalToolError) => e.transient)
    await assert.rejects(run(['sh', '-c', 'exit 255'], {unreachableCodes: [255]}), (e: ExternalToolError) => e.exitCode === 5)
    assert.equal((await run(['sh', '-c', 'exit 24'], {okCodes: [0, 24]})).code, 24)
  })

  it('a missing tool is an unreachable-class error naming it', async () => {
    await assert.rejects(run(['dataflow-no-such-tool']), (e: ExternalToolError) => e.details.missing === true && e.exitCode === 5 && /dataflow-no-such-tool: not found/.test(e.message))
  })

  it('times out and kills', async () => {
    const started = Date.now()
    await assert.rejects(run(['sleep', '10'], {timeoutMs: 200}), (e: ExternalToolError) => e.details.timedOut === true && e.transient)
    assert.ok(Date.now() - started < 3000)
  })

  it('an abort signal stops the child', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataflow-exec-'))
    try {
      // The child makes a file once it runs, then sleeps: the abort comes while it runs.
      const started = join(dir, 'started')
      const controller = new AbortController()
      const running = run(['sh', '-c', ': > "$0"; exec sleep 10', started], {signal: controller.signal})
      running.catch(() => {}) // handled below; not unhandled while we wait
      await eventually(() => existsSync(started), 10_000, () => 'the child never started')
      const aborted = Date.now()
      controller.abort()
      await assert.rejects(running, InterruptedError)
      assert.ok(Date.now() - aborted < 3000, 'the child was stopped, not waited for')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('withRetry retries transient errors with backoff and gives up after the limit', async () => {
    let calls = 0
    const delays: number[] = []
    await assert.rejects(
      withRetry(
        async () => {
          calls++
          return run(['sh', '-c', 'exit 12'], {transientCodes: [12]})
        },
        {attempts: 3, initialDelayMs: 10, maxDelayMs: 15, onRetry: (_e, _n, d) => delays.push(d)},
      ),
      ExternalToolError,
    )
    assert.equal(calls, 3)
    assert.deepEqual(delays, [10, 15])
    let permanent = 0
    await assert.rejects(withRetry(async () => { permanent++; return run(['false']) }, {attempts: 5, initialDelayMs: 1, maxDelayMs: 1}))
    assert.equal(permanent, 1)
  })
})
