// The process entry shared by bin/dev.js and the single executable: loads oclif's config,
// adds the exit-code table to the root help, runs the command and maps errors to exit codes.
import {Config, flush, handle, run} from '@oclif/core'

import {EXIT_CODE_HELP} from './lib/errors.js'

export function rootDescription(): string {
  const codes = EXIT_CODE_HELP.map(([code, text]) => `${String(code).padEnd(5)}${text}`)
  return [
    'Moves SuperDARN Borealis radar data from the radar computer to campus, verified at every hop.',
    'Roles: borealis, site-linux, campus. Config: --config, $DATAFLOW_CONFIG or /etc/dataflow/config.yaml.',
    '',
    'EXIT CODES',
    ...codes,
  ].join('\n')
}

export async function main(dir: string, argv: string[]): Promise<void> {
  try {
    const config = await Config.load(dir)
    config.pjson.oclif.description = rootDescription()
    await run(argv, config)
    await flush()
  } catch (error) {
    await handle(error as Error)
  }
}
