// Proves that text in our images is drawn with real glyphs. Without usable fonts librsvg/pango
// still exits 0 and draws every character as the same empty box ("tofu"), so the proof compares
// ink widths: eight 'i' and eight 'W' differ about fourfold in DejaVu Sans, while boxes are the
// same width whatever the character. sharp is imported here lazily, never at module top level.
import {ensureFontconfig} from '../lib/runtime/assets.js'

const FONT_FAMILY = 'DejaVu Sans'
const FONT_PX = 40
const NARROW = 'iiiiiiii'
const WIDE = 'WWWWWWWW'
/** Advance widths in DejaVu Sans, in em: 'i' 0.278, 'W' 0.989 (from the font's hmtx table). */
const DEJAVU_EM = {i: 0.278, W: 0.989}

export interface InkMeasure {
  text: string
  /** Columns between the leftmost and the rightmost inked pixel. */
  inkWidth: number
  /** Rows between the top and the bottom inked pixel. */
  inkHeight: number
  /** Pixels darker than mid-grey. */
  inkPixels: number
}

export interface TextProbeResult {
  fontconfigFile: string
  fontFamily: string
  fontPx: number
  narrow: InkMeasure
  wide: InkMeasure
  /** wide.inkWidth / narrow.inkWidth: about 3.6 for DejaVu Sans, about 1 for boxes. */
  widthRatio: number
  /** Real glyphs were drawn (not boxes, not nothing). */
  realGlyphs: boolean
  /** The wide string is as wide as DejaVu Sans draws it (within 10 %): the bundled font was used. */
  matchesDejaVu: boolean
  durationMs: number
}

function svgFor(text: string, width: number, height: number): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="#fff"/>` +
    `<text x="10" y="${Math.round(height * 0.72)}" font-family="${FONT_FAMILY}" font-size="${FONT_PX}" fill="#000">${text}</text>` +
    `</svg>`
  )
}

function measure(text: string, data: Buffer, width: number, height: number): InkMeasure {
  let left = width
  let right = -1
  let top = height
  let bottom = -1
  let inkPixels = 0
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x]! < 128) {
        inkPixels++
        if (x < left) left = x
        if (x > right) right = x
        if (y < top) top = y
        if (y > bottom) bottom = y
      }
    }
  }
  return {text, inkWidth: right < 0 ? 0 : right - left + 1, inkHeight: bottom < 0 ? 0 : bottom - top + 1, inkPixels}
}

export async function probeTextRendering(): Promise<TextProbeResult> {
  const started = Date.now()
  const fontconfigFile = ensureFontconfig()
  const {default: sharp} = await import('sharp')
  const width = Math.ceil(FONT_PX * 10)
  const height = Math.ceil(FONT_PX * 1.6)
  const render = async (text: string): Promise<InkMeasure> => {
    const {data, info} = await sharp(Buffer.from(svgFor(text, width, height)))
      .greyscale()
      .raw()
      .toBuffer({resolveWithObject: true})
    if (info.channels !== 1) throw new Error(`text probe: expected 1 channel, got ${info.channels}`)
    return measure(text, data, info.width, info.height)
  }
  const narrow = await render(NARROW)
  const wide = await render(WIDE)
  const widthRatio = narrow.inkWidth === 0 ? 0 : wide.inkWidth / narrow.inkWidth
  // Ink of the wide string spans 7 advances plus one glyph's ink (≈ its advance).
  const expectedWide = WIDE.length * DEJAVU_EM.W * FONT_PX
  return {
    fontconfigFile,
    fontFamily: FONT_FAMILY,
    fontPx: FONT_PX,
    narrow,
    wide,
    widthRatio: Math.round(widthRatio * 100) / 100,
    realGlyphs: narrow.inkPixels > 0 && wide.inkPixels > 0 && widthRatio > 2,
    matchesDejaVu: Math.abs(wide.inkWidth - expectedWide) / expectedWide < 0.1,
    durationMs: Date.now() - started,
  }
}
