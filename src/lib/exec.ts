// The only module that starts processes. argv arrays only (shell: false): file names are data
// and never pass through a shell. Every call can be aborted and has a timeout; errors carry the
// argv, the exit code and the tail of stderr. Classification (transient or not) is by exit code,
// supplied by the caller, never by the wording of stderr.
import {spawn} from 'node:child_process'
import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'

import {ExternalToolError, InterruptedError} from './errors.js'

const STDERR_TAIL_BYTES = 2048

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  signal?: AbortSignal
  /** Kill the process (SIGTERM, then SIGKILL after 5 s) when it runs longer. */
  timeoutMs?: number
  /** Bytes for standard input; without it stdin is /dev/null (so no child eats a parent's input). */
  input?: string | Uint8Array
  /** Collect stdout (default true). Large outputs should go to a file descriptor instead. */
  captureStdout?: boolean
  /** A file descriptor to receive stdout instead of capturing it. */
  stdoutFd?: number
  /** Exit codes that count as success (default [0]). */
  okCodes?: readonly number[]
  /** Exit codes after which a retry may help (e.g. ssh 255, rsync 10/12/23/30/35). */
  transientCodes?: readonly number[]
  /** Exit codes meaning the host or tool could not be reached. */
  unreachableCodes?: readonly number[]
}

/**
 * The line of a tool's stderr that says why it failed: the last one, except rsync's closing
 * "rsync error: … (code 23)" summary, which names no cause (the line before it does).
 */
export function causeLine(stderrTail: string): string {
  const lines = stderrTail.split('\n').filter((line) => line.trim() !== '')
  return lines.filter((line) => !line.startsWith('rsync error:')).at(-1) ?? lines.at(-1) ?? ''
}

export interface RunResult {
  argv: readonly string[]
  code: number
  stdout: string
  stderr: string
  durationMs: number
}

function tail(buffers: Buffer[]): string {
  const all = Buffer.concat(buffers)
  return all.subarray(Math.max(0, all.length - STDERR_TAIL_BYTES)).toString('utf8').trim()
}

/** The first executable file called `name` in the PATH directories, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return candidate
    } catch {}
  }
  return undefined
}

export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  if (argv.length === 0) throw new TypeError('run(): empty argv')
  if (options.signal?.aborted) throw new InterruptedError(`${argv[0]}: not started, interrupted`)
  const started = Date.now()
  const [command, ...args] = argv as [string, ...string[]]
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    shell: false,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', options.stdoutFd ?? 'pipe', 'pipe'],
  })
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  let stderrBytes = 0
  if (options.captureStdout !== false) child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk))
  else child.stdout?.resume()
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(chunk)
    stderrBytes += chunk.length
    // Keep memory bounded for chatty tools: only the tail is ever reported.
    while (stderrBytes > 4 * STDERR_TAIL_BYTES && stderr.length > 1) stderrBytes -= stderr.shift()!.length
  })
  if (options.input !== undefined) child.stdin?.end(options.input)

  let timedOut = false
  let killTimer: NodeJS.Timeout | undefined
  const terminate = () => {
    child.kill('SIGTERM')
    killTimer = setTimeout(() => child.kill('SIGKILL'), 5000)
    killTimer.unref()
  }
  const timer = options.timeoutMs
    ? setTimeout(() => {
        timedOut = true
        terminate()
      }, options.timeoutMs)
    : undefined
  const onAbort = () => terminate()
  options.signal?.addEventListener('abort', onAbort, {once: true})

  const outcome = await new Promise<{code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException}>(
    (resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve({code: null, signal: null, error}))
      child.once('close', (code, signal) => resolve({code, signal}))
    },
  )
  if (timer) clearTimeout(timer)
  if (killTimer) clearTimeout(killTimer)
  options.signal?.removeEventListener('abort', onAbort)

  const details = {argv, code: outcome.code, signal: outcome.signal, stderrTail: tail(stderr), timedOut}
  if (outcome.error) {
    const missing = outcome.error.code === 'ENOENT'
    throw new ExternalToolError(
      `${command}: ${missing ? 'not found (is it installed?)' : `cannot start (${outcome.error.code ?? outcome.error.message})`}`,
      {...details, missing},
      {unreachable: missing},
    )
  }
  if (options.signal?.aborted) throw new InterruptedError(`${command}: interrupted`)
  if (timedOut) {
    throw new ExternalToolError(`${command}: timed out after ${Math.round(options.timeoutMs! / 1000)} s`, details, {transient: true})
  }
  const code = outcome.code ?? 128
  if (!(options.okCodes ?? [0]).includes(code)) {
    const why = outcome.signal ? `killed by ${outcome.signal}` : `exit code ${code}`
    const last = causeLine(details.stderrTail)
    throw new ExternalToolError(`${command}: ${why}${last ? `: ${last}` : ''}`, details, {
      transient: options.transientCodes?.includes(code) ?? false,
      unreachable: options.unreachableCodes?.includes(code) ?? false,
    })
  }
  return {
    argv,
    code,
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: tail(stderr),
    durationMs: Date.now() - started,
  }
}

/** Resolves when `ms` elapsed, or rejects with InterruptedError when the signal fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError('interrupted'))
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new InterruptedError('interrupted'))
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

/** Bounded exponential backoff for errors marked transient; anything else is thrown at once. */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  policy: {attempts: number; initialDelayMs: number; maxDelayMs: number; signal?: AbortSignal; onRetry?: (error: unknown, n: number, delayMs: number) => void},
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n)
    } catch (error) {
      const transient = (error as {transient?: boolean}).transient === true
      if (!transient || n >= policy.attempts) throw error
      const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (n - 1))
      policy.onRetry?.(error, n, delay)
      await sleep(delay, policy.signal)
    }
  }
}
