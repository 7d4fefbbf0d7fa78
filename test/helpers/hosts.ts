// Per-"host" directory roots in one temporary directory: each simulated host (borealis,
// site-linux, campus, telemetry…) gets its own root, home and config file.
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export interface HostRoot {
  name: string
  root: string
  home: string
  /** Path inside this host's root: at('data', 'x') → <root>/data/x */
  at: (...parts: string[]) => string
}

export interface Sandbox {
  dir: string
  host: (name: string) => HostRoot
  cleanup: () => void
}

export function makeSandbox(prefix = 'dataflow-test-'): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const hosts = new Map<string, HostRoot>()
  return {
    dir,
    host(name) {
      let host = hosts.get(name)
      if (!host) {
        const root = join(dir, name)
        const home = join(root, 'home')
        mkdirSync(home, {recursive: true})
        host = {name, root, home, at: (...parts) => join(root, ...parts)}
        hosts.set(name, host)
      }
      return host
    },
    cleanup() {
      if (!process.env.DATAFLOW_KEEP_TEST_DIRS) rmSync(dir, {recursive: true, force: true})
    },
  }
}
