// The one base class of every command: the shared --config flag, config loading, and the
// mapping of errors to one-line messages and the exit codes of src/lib/errors.ts.
import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import {type LoadedConfig, loadConfig} from '../lib/config/load.js'
import {ConfigError, DataflowError, EXIT, exitCodeOf, oneLine} from '../lib/errors.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    config: Flags.string({
      description: 'config file (default: $DATAFLOW_CONFIG, else /etc/dataflow/config.yaml)',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>
  protected args!: Interfaces.InferredArgs<T['args']>
  /** Every positional argument, for commands taking a list of files (strict = false). */
  protected positionals: string[] = []

  override async init(): Promise<void> {
    await super.init()
    const {args, argv, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as Interfaces.InferredArgs<T['args']>
    this.positionals = argv.map(String)
  }

  protected loadConfig(overrides?: Record<string, unknown>): LoadedConfig {
    return loadConfig({file: this.flags.config, overrides})
  }

  /** Prints one line (plus the list of problems for config errors) and exits with our code. */
  override async catch(error: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error
    // oclif's own parse errors (unknown flag, missing argument) keep oclif's message and exit 2.
    if (!(error instanceof DataflowError) && error.oclif?.exit !== undefined) throw error
    const code = exitCodeOf(error)
    const problems = error instanceof ConfigError ? error.problems : []
    if (this.jsonEnabled()) {
      this.logJson({error: {name: error.name, message: oneLine(error), exitCode: code, problems}})
    } else {
      process.stderr.write(`dataflow: ${oneLine(error)}\n`)
      for (const problem of problems) process.stderr.write(`  - ${problem}\n`)
      if (code === EXIT.INTERNAL && process.env.DEBUG) process.stderr.write(`${error.stack ?? ''}\n`)
    }
    this.exit(code)
    return undefined
  }
}
