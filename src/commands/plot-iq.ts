import {stat} from 'node:fs/promises'

import {Args, Flags} from '@oclif/core'

import {EXIT, UsageError} from '../lib/errors.js'
import type {PlotIqOutcome} from '../plotting/antennas-iq.js'
import {BaseCommand} from './base.js'

export interface PlotIqSummary {
  succeeded: number
  failed: number
  files: PlotIqOutcome[]
}

const number = Flags.custom<number>({
  parse: async (input) => {
    const value = Number(input)
    if (input.trim() === '' || !Number.isFinite(value)) throw new UsageError(`"${input}" is not a number`)
    return value
  },
})

export default class PlotIq extends BaseCommand<typeof PlotIq> {
  static override summary = 'Plot Borealis antennas_iq files: per antenna a 1000 px JPEG of power (dB) by sequence and sample'
  static override description =
    "The original iq_plotting.py: lower panel 20·log10|x| of samples start..end over every sequence (plasma, " +
    'colour bar "Power (dB)"), upper panel the sequences per record; written as <first six name fields>.antenna_<N>_<start>_<end>.jpg ' +
    'next to each input (or into --plot-directory), each complete or not at all. --html adds one self-contained, ' +
    'offline, zoomable page per file. Omitting --antennas plots every antenna of the file. Exit 3 when any file failed; ' +
    'each failure is one line naming the file.'
  static override enableJsonFlag = true
  static override strict = false
  static override args = {file: Args.string({required: true, description: 'Borealis antennas_iq HDF5 file(s)'})}
  static override flags = {
    antennas: Flags.string({description: 'antenna numbers: comma-separated numbers and ranges, e.g. 0-2,5,9-12 (default: all)'}),
    'min-power': number({default: 10, description: 'bottom of the colour range (dB)'}),
    'max-power': number({default: 40, description: 'top of the colour range (dB)'}),
    'start-sample': Flags.integer({default: 0, min: 0, description: 'first sample shown'}),
    'end-sample': Flags.integer({default: 70, min: 1, description: 'sample after the last one shown'}),
    'plot-directory': Flags.string({description: 'write here (an existing directory) instead of next to each input'}),
    html: Flags.boolean({description: 'also write one interactive HTML page per file (plotly, inlined: works offline)'}),
    'dry-run': Flags.boolean({description: 'print the output names, write nothing'}),
  }
  static override examples = [
    '<%= config.bin %> plot-iq --antennas 0-19 --min-power 30 --max-power 80 20231004.1400.00.sas.0.antennas_iq.h5',
    '<%= config.bin %> plot-iq --html --plot-directory /tmp/plots /borealis_nfs/borealis_data/antennas_iq_array/*.h5',
  ]

  async run(): Promise<PlotIqSummary> {
    const {checkPlotOptions, parseAntennaList, plotAntennasIqFile} = await import('../plotting/antennas-iq.js')
    const flags = this.flags
    const options = {
      antennas: flags.antennas === undefined ? null : parseAntennaList(flags.antennas),
      minPower: flags['min-power'],
      maxPower: flags['max-power'],
      startSample: flags['start-sample'],
      endSample: flags['end-sample'],
      plotDirectory: flags['plot-directory'] ?? null,
      html: flags.html,
      dryRun: flags['dry-run'],
    }
    checkPlotOptions(options)
    if (options.plotDirectory !== null) {
      const info = await stat(options.plotDirectory).catch(() => null)
      if (!info?.isDirectory()) throw new UsageError(`--plot-directory ${options.plotDirectory}: no such directory`)
    }
    const json = this.jsonEnabled()
    const files: PlotIqOutcome[] = []
    for (const file of this.positionals) {
      const outcome = await plotAntennasIqFile(file, options)
      files.push(outcome)
      if (json) continue
      const outputs = [...outcome.plots.map((p) => p.path), ...(outcome.html ? [outcome.html] : [])]
      for (const output of outputs) this.log(options.dryRun ? `${file} → ${output}` : `Wrote ${output}`)
      if (!outcome.ok) this.logToStderr(`dataflow: ${outcome.error}`)
    }
    const failed = files.filter((f) => !f.ok).length
    if (failed > 0) process.exitCode = EXIT.PARTIAL
    return {succeeded: files.length - failed, failed, files}
  }
}
