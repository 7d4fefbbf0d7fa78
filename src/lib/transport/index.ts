// Picks the Transport for a destination and wires its settings from the configuration: timeouts,
// the control-socket directory under the state directory, and the host's bandwidth limit (an
// option of the ssh transport, applied in one argv builder).
import {resolvePath} from '../config/load.js'
import type {Config, HostConfig} from '../config/schema.js'
import {LocalTransport} from './local.js'
import {SshTransport} from './ssh.js'
import type {Transport} from './types.js'

export type Destination = {kind: 'local'} | {kind: 'ssh'; host: HostConfig; /** e.g. `hosts.campus`, for messages */ configKey?: string}

export function transportFor(destination: Destination, config: Pick<Config, 'timeouts' | 'state'>): Transport {
  if (destination.kind === 'local') return new LocalTransport()
  return new SshTransport(destination.host, {
    connectTimeoutSeconds: config.timeouts.sshConnectSeconds,
    ioTimeoutSeconds: config.timeouts.ioSeconds,
    commandTimeoutSeconds: config.timeouts.commandSeconds,
    controlDir: `${resolvePath(config.state.directory)}/ssh`,
    bandwidthLimitKBps: destination.host.bandwidthLimitKBps,
    configKey: destination.configKey,
  })
}

export type {PutOptions, PutResult, Transport} from './types.js'
export {LocalTransport} from './local.js'
export {SshTransport, type SshTransportOptions} from './ssh.js'
export {moveVerified, sendVerifiedWithResend, type MoveResult, type ResendOptions, type SendResult} from './verified-move.js'
