// Runs the CLI as a child process, as an operator or systemd would. By default the TypeScript
// sources through bin/dev.js; set DATAFLOW_BINARY to run a built executable instead.
import {spawn} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Reference fixtures, in the repository (test/fixtures/README.md says where each comes from). */
export const FIXTURES = join(REPO, 'test', 'fixtures')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  input?: string
  /** Path of an executable to run instead of the dev entry. */
  binary?: string
  timeoutMs?: number
}

/** tsx's loader by absolute URL: a bare 'tsx' would be resolved from the child's cwd, which may be outside the repo. */
const TSX_LOADER = pathToFileURL(join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href

export function cliArgv(args: readonly string[], binary = process.env.DATAFLOW_BINARY): string[] {
  return binary ? [binary, ...args] : [process.execPath, '--import', TSX_LOADER, join(REPO, 'bin', 'dev.js'), ...args]
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const [command, ...rest] = cliArgv(args, options.binary)
  return new Promise((resolve, reject) => {
    const child = spawn(command!, rest, {
      cwd: options.cwd ?? REPO,
      // A config file on the test machine must never leak into a test.
      env: {...process.env, DATAFLOW_CONFIG: '', ...options.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.stdin.end(options.input ?? '')
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code: code ?? (signal ? 128 : 1), stdout, stderr})
    })
  })
}
