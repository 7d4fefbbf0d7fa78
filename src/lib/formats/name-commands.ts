// Batch helpers behind the `names` commands: one result per input, failures reported per file
// and reflected in the exit code (3 when any input failed), never thrown for the whole batch.
import {stat} from 'node:fs/promises'

import {EXIT, oneLine} from '../errors.js'
import {checkTimestamp, type TimestampCheck} from './names.js'

export interface NameMapping {
  input: string
  output?: string
  error?: string
}

export function mapNames(inputs: readonly string[], map: (path: string) => string): NameMapping[] {
  const results = inputs.map((input): NameMapping => {
    try {
      return {input, output: map(input)}
    } catch (error) {
      return {input, error: oneLine(error)}
    }
  })
  if (results.some((r) => r.error)) process.exitCode = EXIT.PARTIAL
  return results
}

export type TimestampResult = Partial<TimestampCheck> & {file: string; ok: boolean; error?: string}

export async function checkTimestamps(files: readonly string[]): Promise<TimestampResult[]> {
  const results: TimestampResult[] = []
  for (const file of files) {
    try {
      const info = await stat(file)
      results.push(checkTimestamp(file, info.mtime))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      results.push({file, ok: false, error: code ? `${file}: cannot read (${code})` : oneLine(error)})
    }
  }
  if (results.some((r) => !r.ok)) process.exitCode = EXIT.PARTIAL
  return results
}
