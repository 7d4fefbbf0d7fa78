// Entry of the single executable's bundle (built by scripts/pkg-build.ts, loaded by
// scripts/sea-main.cjs). Exporting the command map from here keeps oclif, COMMANDS and main in
// one module instance: oclif `require`s this same file as its explicit command target.
export {main} from './cli.js'
export {COMMANDS} from './commands/index.js'
