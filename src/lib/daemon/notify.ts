// Readiness and liveness for systemd (Type=notify, WatchdogSec=): the sd_notify protocol is a
// datagram on the AF_UNIX socket named by $NOTIFY_SOCKET, which Node cannot send (no unix
// datagram sockets), so each message is sent by `systemd-notify`, spawned with an argv through
// exec.ts. Because the sender is then a child process, the unit needs NotifyAccess=all.
// systemd-notify waits until systemd has processed the message (its default since systemd 246),
// so the short-lived sender is still there when systemd looks up which unit it belongs to.
//
// Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op. A failed notification is reported
// to `onError` and never stops the daemon: without READY=1 systemd itself times the start out.
import {run} from '../exec.js'

export interface Notifier {
  /** True when running under systemd with a notify socket. */
  readonly enabled: boolean
  /** Half of WatchdogSec (how often to send WATCHDOG=1), or null without a watchdog. */
  readonly watchdogIntervalMs: number | null
  ready(status: string): Promise<void>
  watchdog(): Promise<void>
  status(text: string): Promise<void>
  stopping(status: string): Promise<void>
}

const NOTIFY_TIMEOUT_MS = 10_000

/** systemd-notify argv for one message; pure. */
export function notifyArgv(message: 'ready' | 'watchdog' | 'status' | 'stopping', status?: string, pid = process.pid): string[] {
  const argv = ['systemd-notify']
  if (message === 'ready') argv.push('--ready', `MAINPID=${pid}`)
  if (message === 'watchdog') argv.push('WATCHDOG=1')
  if (message === 'stopping') argv.push('STOPPING=1')
  if (status !== undefined) argv.push(`--status=${status.replace(/\s+/g, ' ').slice(0, 200)}`)
  return argv
}

export function systemdNotifier(options: {env?: NodeJS.ProcessEnv; onError?: (error: unknown) => void; signal?: AbortSignal} = {}): Notifier {
  const env = options.env ?? process.env
  const enabled = Boolean(env.NOTIFY_SOCKET)
  // The watchdog applies to us only when WATCHDOG_PID is unset or ours (sd_watchdog_enabled(3)).
  const watchdogUsec = Number(env.WATCHDOG_USEC)
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid
  const watchdogIntervalMs = enabled && forUs && watchdogUsec > 0 ? Math.max(1, Math.floor(watchdogUsec / 2000)) : null
  const send = async (argv: string[]) => {
    if (!enabled) return
    try {
      await run(argv, {timeoutMs: NOTIFY_TIMEOUT_MS, env})
    } catch (error) {
      options.onError?.(error)
    }
  }
  return {
    enabled,
    watchdogIntervalMs,
    ready: (status) => send(notifyArgv('ready', status)),
    watchdog: () => send(notifyArgv('watchdog')),
    status: (text) => send(notifyArgv('status', text)),
    stopping: (status) => send(notifyArgv('stopping', status)),
  }
}
