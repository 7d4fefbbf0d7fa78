// Picks the Transport for a destination. The settings come from the resolved role layout
// (src/roles/layout.ts): timeouts, the control-socket directory under the state directory, and
// the host's bandwidth limit (an option of the ssh transport, applied in one argv builder).
import type {HostConfig} from '../config/schema.js'
import {LocalTransport} from './local.js'
import {SshTransport} from './ssh.js'
import type {Transport} from './types.js'

export type Destination = {kind: 'local'} | {kind: 'ssh'; host: HostConfig; /** e.g. `hosts.campus`, for messages */ configKey: string}

export interface TransportSettings {
  connectTimeoutSeconds: number
  ioTimeoutSeconds: number
  commandTimeoutSeconds: number
  /** Where the ssh control sockets live (a private directory is made inside). */
  controlDir: string
}

export function transportFor(destination: Destination, settings: TransportSettings): Transport {
  if (destination.kind === 'local') return new LocalTransport()
  return new SshTransport(destination.host, {...settings, bandwidthLimitKBps: destination.host.bandwidthLimitKBps, configKey: destination.configKey})
}

export type {Transport} from './types.js'
export {LocalTransport} from './local.js'
export {moveVerified} from './verified-move.js'
