// Streaming file hashes: memory stays flat whatever the file size.
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'

export type HashAlgorithm = 'md5' | 'sha256' | 'sha1'

export const HASH_TOOLS: Readonly<Record<HashAlgorithm, string>> = {md5: 'md5sum', sha256: 'sha256sum', sha1: 'sha1sum'}

export async function hashFile(path: string, algorithm: HashAlgorithm, signal?: AbortSignal): Promise<string> {
  const hash = createHash(algorithm)
  const stream = createReadStream(path, {highWaterMark: 1 << 20, signal})
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export function hashBytes(data: Uint8Array | string, algorithm: HashAlgorithm): string {
  return createHash(algorithm).update(data).digest('hex')
}

/** Parses one line of md5sum/sha256sum output: `<hex>  <name>` (or ` *<name>` in binary mode). */
export function parseHashLine(line: string): {hash: string; name: string} | null {
  const match = /^\\?([0-9a-f]{32,128}) [ *](.+)$/.exec(line.trimEnd())
  return match ? {hash: match[1]!, name: match[2]!} : null
}
