#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript sources directly. Production is the single
// executable built by `npm run package` (dist/dataflow).
import {main} from '../src/cli.ts'

await main(import.meta.url, process.argv.slice(2))
