// Listing a stage's input directory. Hidden names are never inputs: they are the temporary files
// of atomic writes (ours and rsync's `.name.XXXXXX`) and the flags.
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'

export interface ListOptions {
  /** A missing directory lists as empty instead of throwing (an input directory not made yet). */
  missingOk?: boolean
}

/**
 * Regular files directly in `dir` (depth 1, like `find -maxdepth 1 -type f`) whose name passes
 * `accept`, sorted by path. Symbolic links are not regular files here: a link pointing out of the
 * directory is never followed, moved or deleted. A missing directory throws ENOENT unless
 * `missingOk`; the caller maps that to the operator's error (exit 2 naming the path).
 */
export async function filesIn(dir: string, accept: (name: string) => boolean = () => true, options: ListOptions = {}): Promise<string[]> {
  let entries
  try {
    entries = await readdir(dir, {withFileTypes: true})
  } catch (error) {
    if (options.missingOk && (error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && accept(e.name))
    .map((e) => join(dir, e.name))
    .sort()
}
