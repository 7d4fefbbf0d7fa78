// Files the program needs at run time besides its code: the bundled fonts. From the sources they
// live in the repository's assets/fonts; in the executable the bootstrap (scripts/sea-main.cjs)
// extracts them beside the bundle, as <app>/fonts next to <app>/dist/dataflow.cjs.
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {isBundled} from '../build-info.js'
import {BugError} from '../errors.js'

export const FONTS_CONF = 'fonts.conf'

/** The directory holding DejaVuSans*.ttf and fonts.conf. */
export function fontsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  // Bundled: `here` is <app>/dist. Sources: `here` is <repo>/src/lib/runtime.
  const dir = isBundled() ? join(here, '..', 'fonts') : join(here, '..', '..', '..', 'assets', 'fonts')
  if (!existsSync(join(dir, FONTS_CONF))) throw new BugError(`bundled fonts not found: ${join(dir, FONTS_CONF)} is missing`)
  return dir
}

/**
 * Points fontconfig at the bundled fonts unless the operator chose a configuration. Must run
 * before the first text rendering: libvips' fontconfig reads FONTCONFIG_FILE once, when it first
 * initialises. Without it, a host with no system fonts renders every glyph as a box, silently.
 * Returns the configuration file in effect.
 */
export function ensureFontconfig(env: NodeJS.ProcessEnv = process.env): string {
  if (!env.FONTCONFIG_FILE) env.FONTCONFIG_FILE = join(fontsDir(), FONTS_CONF)
  return env.FONTCONFIG_FILE
}
