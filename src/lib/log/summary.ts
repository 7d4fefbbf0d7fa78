// The human summary log in the original's exact layout (header, per-file phrases, footer), so
// the existing telemetry parser keeps working. Its date defect is fixed: directory and file name
// both use the UTC date (the original mixed host-local and UTC: docs/design.md#summary-date-mixed).
// Lines are written verbatim (the original's printf garbled paths containing % or \).
import {appendFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'

/** What the summary layout needs to know about a stage (src/lib/stages/specs.ts has them all). */
export interface SummaryStage {
  /** The original script name: summary phrases, log and telemetry directory names. */
  script: string
  /** Log directory under logging.directory (default: script). */
  logDir?: string
  /** Campus stages run per radar and prefix their log file names with `<rad>.`. */
  perRadarFileNames: boolean
  /** Summary file suffix before `.log` (archive_iq has none). */
  summarySuffix: '_summary' | ''
  /** Version lines in the header: data_flow (and pyDARNio for campus conversion stages). */
  versionLines: ReadonlyArray<'data_flow' | 'pyDARNio'>
  /** Whether the summary ends with the `Finished …` footer. */
  footer: boolean
}

export const RULE = '#'.repeat(80)

const pad = (n: number) => String(n).padStart(2, '0')

/** YYYYMMDD HH:MM:SS in UTC (the original's summary date format). */
export function summaryTimestamp(date: Date): string {
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
}

export function utcDay(date: Date): {yyyy: string; mm: string; ymd: string} {
  const yyyy = String(date.getUTCFullYear())
  const mm = pad(date.getUTCMonth() + 1)
  return {yyyy, mm, ymd: `${yyyy}${mm}${pad(date.getUTCDate())}`}
}

/** `<logDir>/<script>/summary/YYYY/MM/[<rad>.]YYYYMMDD.<script>_summary.log` */
export function summaryPath(logRoot: string, stage: SummaryStage, now: Date, radar?: string): string {
  const {yyyy, mm, ymd} = utcDay(now)
  const dir = stage.logDir ?? stage.script
  const prefix = stage.perRadarFileNames && radar ? `${radar}.` : ''
  return join(logRoot, dir, 'summary', yyyy, mm, `${prefix}${ymd}.${dir}${stage.summarySuffix}.log`)
}

/** `<logDir>/<script>/YYYY/MM/[<rad>.]YYYYMMDD.<script>.log`: the daily JSON event log. */
export function mainLogPath(logRoot: string, stage: SummaryStage, now: Date, radar?: string): string {
  const {yyyy, mm, ymd} = utcDay(now)
  const dir = stage.logDir ?? stage.script
  const prefix = stage.perRadarFileNames && radar ? `${radar}.` : ''
  return join(logRoot, dir, yyyy, mm, `${prefix}${ymd}.${dir}.log`)
}

export interface BuildStamp {
  version: string
  commit: string
  /** Build (or commit) time. */
  date: Date
}

/** `data_flow: On branch <b>, last commit: \t\t<hash> <YYYY-MM-DD HH:MM:SS +0000>`, parsed by telemetry. */
export function versionLine(name: string, build: BuildStamp): string {
  const d = build.date
  const when = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  return `${name}: On branch dataflow-${build.version}, last commit: \t\t${build.commit} ${when}`
}

export interface SummaryOptions {
  stage: SummaryStage
  logRoot: string
  radar: string
  /** How the run was invoked (the original printed its full argv0). */
  invokedAs: string
  host: string
  build: BuildStamp
  now?: () => Date
  /** When false, lines are kept in memory only (dry runs). */
  write?: boolean
}

export class SummaryLog {
  readonly path: string
  readonly lines: string[] = []
  private readonly now: () => Date

  constructor(private readonly options: SummaryOptions) {
    this.now = options.now ?? (() => new Date())
    this.path = summaryPath(options.logRoot, options.stage, this.now(), options.radar)
  }

  private put(text: string): void {
    this.lines.push(text)
    if (this.options.write === false) return
    mkdirSync(join(this.path, '..'), {recursive: true})
    appendFileSync(this.path, `${text}\n`)
  }

  header(): void {
    const {stage, invokedAs, host, radar, build} = this.options
    this.put(RULE)
    this.put('')
    this.put(`Executing ${invokedAs} on ${host} for ${radar}`)
    this.put(`${summaryTimestamp(this.now())} UTC`)
    for (const name of stage.versionLines) this.put(versionLine(name, build))
  }

  line(text: string): void {
    this.put(text.replace(/\r?\n/g, ' '))
  }

  blank(): void {
    this.put('')
  }

  footer(): void {
    if (!this.options.stage.footer) return
    this.put('')
    this.put(`Finished ${this.options.stage.script}. End time: ${summaryTimestamp(this.now())} UTC`)
    this.put('')
  }
}
