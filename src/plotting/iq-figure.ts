// One antenna's antennas_iq figure as a 1000 px wide JPEG: the heat map and
// the colour bar are raw pixels (nearest-neighbour cells, exact plasma colours), everything else
// (frames, ticks, labels, title, the sequences line) is one SVG overlay that sharp/librsvg renders
// with the bundled DejaVu Sans. Rendered at the final size directly: no full-size intermediate.
//
// Geometry: the original's figure is matplotlib's 12 × 10 in at 100 dpi, constrained layout,
// saved with a tight bounding box (1211 × 1011 px) and shrunk to 1000 px wide. The constants
// below are positions in that reference frame, measured on the reference images
// (test/fixtures/borealis/*.antenna_*.jpg) and matplotlib's defaults (10 pt labels, 12 pt
// title, 3.5 pt ticks with 3.5 pt padding, 0.8 pt frames, 1.5 pt lines); everything is scaled by
// 1000 / 1211. As constrained layout does, the axes shrink when tick labels are wider.
//
// One deliberate difference: the original stretched N cells over N + 1 units (x from −0.5 to
// N + 0.5), so its top tick labels sat up to one cell off; here cell i is centred on i (x from
// −0.5 to N − 0.5, y from start − 0.5 to end − 0.5). See docs/design.md#plot-extent-stretched.
import {ensureFontconfig} from '../lib/runtime/assets.js'
import type {PowerGrid} from './iq-data.js'
import {PLASMA_RGB, plasmaIndex} from './plasma.js'
import {niceTicks, textWidth, tickLabels} from './ticks.js'

export const FIGURE_WIDTH = 1000
export const FONT_FAMILY = 'DejaVu Sans'

const REF_WIDTH = 1211
const REF_HEIGHT = 1011
const PT = 100 / 72
const FONT = 10 * PT
const TITLE_FONT = 12 * PT
const TICK_LEN = 3.5 * PT
const TICK_PAD = 3.5 * PT
const LINE = 1.5 * PT
/** Font size of the title in the output image (12 pt at 100 dpi, scaled to 1000 px). */
export const TITLE_FONT_PX = (TITLE_FONT * FIGURE_WIDTH) / REF_WIDTH
/** Height of digits and capitals in DejaVu Sans, em. */
const CAP = 0.729
const REF = {
  titleBaseline: 22.5,
  sequencesTop: 34,
  sequencesBottom: 214,
  powerTop: 238,
  powerBottom: 958,
  yLabelBaseline: 18.7,
  leftLabelsStart: 29.6,
  xLabelBaseline: 998,
  colorbarLabelBaseline: 1197,
  rightLabelsEnd: 1182.4,
  colorbarWidth: 33,
  colorbarGap: 12,
}
/** Baseline of the title in the output image. */
export const TITLE_BASELINE_PX = (REF.titleBaseline * FIGURE_WIDTH) / REF_WIDTH
/** matplotlib's default line colour ("C0"). */
const LINE_COLOUR = '#1f77b4'

export interface IqFigureSpec {
  title: string
  /** num_sequences per record, and the index of each record's first sequence. */
  numSequences: readonly number[]
  firstSequence: readonly number[]
  totalSequences: number
  startSample: number
  endSample: number
  minPower: number
  maxPower: number
}

/** A pixel rectangle of the output image. */
export interface Rect {
  left: number
  top: number
  width: number
  height: number
}

interface Axis {
  min: number
  max: number
  ticks: number[]
  labels: string[]
}

export interface IqFigureLayout {
  width: number
  height: number
  /** The heat map: its pixel size is the finest useful bin grid. */
  image: Rect
  sequences: Rect
  colorbar: Rect
  axes: {sequence: Axis; sample: Axis; count: Axis; power: Axis}
}

/** matplotlib's AutoLocator bin count: one tick per 3 (x) or 2 (y) label heights, at most 9 intervals. */
function nbins(lengthRefPx: number, horizontal: boolean): number {
  const points = lengthRefPx * 0.72
  return Math.max(1, Math.min(9, Math.floor(points / (10 * (horizontal ? 3 : 2)))))
}

function axis(min: number, max: number, lengthRefPx: number, horizontal: boolean): Axis {
  const ticks = niceTicks(min, max, nbins(lengthRefPx, horizontal))
  return {min, max, ticks, labels: tickLabels(ticks)}
}

/** Upper y limit of the sequences panel: matplotlib's 5 % data margin, or ±5 % for a flat line. */
function countAxisTop(counts: readonly number[]): number {
  const max = Math.max(...counts)
  const min = Math.min(...counts)
  if (max > min) return max + 0.05 * (max - min)
  return max === 0 ? 0.05 : max * 1.05
}

export function iqFigureLayout(spec: IqFigureSpec): IqFigureLayout {
  const s = FIGURE_WIDTH / REF_WIDTH
  const height = Math.round(REF_HEIGHT * s)
  const sequencesHeight = REF.sequencesBottom - REF.sequencesTop
  const powerHeight = REF.powerBottom - REF.powerTop
  const count = axis(0, countAxisTop(spec.numSequences), sequencesHeight, false)
  const sample = axis(spec.startSample - 0.5, spec.endSample - 0.5, powerHeight, false)
  const power = axis(spec.minPower, spec.maxPower, powerHeight, false)
  const widest = (labels: readonly string[]) => Math.max(0, ...labels.map((l) => textWidth(l, FONT)))
  const axesLeft = REF.leftLabelsStart + Math.max(widest(count.labels), widest(sample.labels)) + TICK_LEN + TICK_PAD
  const colorbarRight = REF.rightLabelsEnd - widest(power.labels) - TICK_LEN - TICK_PAD
  const colorbarLeft = colorbarRight - REF.colorbarWidth
  const axesRight = colorbarLeft - REF.colorbarGap
  const sequence = axis(-0.5, spec.totalSequences - 0.5, axesRight - axesLeft, true)
  const rect = (l: number, t: number, r: number, b: number): Rect => {
    const left = Math.round(l * s)
    const top = Math.round(t * s)
    return {left, top, width: Math.round(r * s) - left, height: Math.round(b * s) - top}
  }
  return {
    width: FIGURE_WIDTH,
    height,
    image: rect(axesLeft, REF.powerTop, axesRight, REF.powerBottom),
    sequences: rect(axesLeft, REF.sequencesTop, axesRight, REF.sequencesBottom),
    colorbar: rect(colorbarLeft, REF.powerTop, colorbarRight, REF.powerBottom),
    axes: {sequence, sample, count, power},
  }
}

const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const f1 = (n: number) => (Math.round(n * 100) / 100).toString()

/** Position of value `v` along a pixel span (`from` at axis.min, `from + length` at axis.max). */
function at(a: Axis, v: number, from: number, length: number): number {
  return from + ((v - a.min) / (a.max - a.min)) * length
}

/** The SVG overlay: white background, frames, ticks, labels, title and the sequences line. */
export function iqFigureSvg(spec: IqFigureSpec, layout: IqFigureLayout): string {
  const s = layout.width / REF_WIDTH
  const font = FONT * s
  const tick = Math.max(2, Math.round(TICK_LEN * s))
  const labelGap = (TICK_LEN + TICK_PAD) * s
  const parts: string[] = []
  const text = (x: number, y: number, body: string, anchor: 'start' | 'middle' | 'end', size = font, rotate = false) =>
    parts.push(
      `<text ${rotate ? `transform="translate(${f1(x)} ${f1(y)}) rotate(-90)"` : `x="${f1(x)}" y="${f1(y)}"`} ` +
        `font-family="${FONT_FAMILY}" font-size="${f1(size)}" text-anchor="${anchor}" fill="#000">${escapeXml(body)}</text>`,
    )
  const box = (r: Rect) => parts.push(`<rect x="${r.left - 0.5}" y="${r.top - 0.5}" width="${r.width + 1}" height="${r.height + 1}" fill="none" stroke="#000" stroke-width="1"/>`)
  const pixel = (x: number, y: number, w: number, h: number) => parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="#000"/>`)
  // Ticks outside the frame: x ticks below `r`, y ticks left of it (or right, for the colour bar).
  const xTicks = (r: Rect, a: Axis, labels: boolean) => {
    a.ticks.forEach((t, i) => {
      const x = at(a, t, r.left, r.width)
      pixel(Math.min(r.left + r.width - 1, Math.floor(x)), r.top + r.height, 1, tick + 1)
      if (labels) text(x, r.top + r.height + labelGap + CAP * font, a.labels[i]!, 'middle')
    })
  }
  const yTicks = (r: Rect, a: Axis, side: 'left' | 'right') => {
    a.ticks.forEach((t, i) => {
      const y = at(a, t, r.top + r.height, -r.height)
      const row = Math.max(r.top, Math.min(r.top + r.height - 1, Math.floor(y)))
      if (side === 'left') {
        pixel(r.left - 1 - tick, row, tick + 1, 1)
        text(r.left - labelGap, y + (CAP / 2) * font, a.labels[i]!, 'end')
      } else {
        pixel(r.left + r.width, row, tick + 1, 1)
        text(r.left + r.width + labelGap, y + (CAP / 2) * font, a.labels[i]!, 'start')
      }
    })
  }
  const {image, sequences, colorbar, axes} = layout

  parts.push(`<rect width="${layout.width}" height="${layout.height}" fill="#fff"/>`)
  text(layout.width / 2, REF.titleBaseline * s, spec.title, 'middle', TITLE_FONT * s)

  // Upper panel: num_sequences at each record's first sequence (a line; one record draws nothing, as in the original).
  const points = spec.numSequences.map(
    (n, i) => `${f1(at(axes.sequence, spec.firstSequence[i]!, sequences.left, sequences.width))},${f1(at(axes.count, n, sequences.top + sequences.height, -sequences.height))}`,
  )
  parts.push(
    `<clipPath id="seq"><rect x="${sequences.left}" y="${sequences.top}" width="${sequences.width}" height="${sequences.height}"/></clipPath>`,
    `<polyline clip-path="url(#seq)" points="${points.join(' ')}" fill="none" stroke="${LINE_COLOUR}" stroke-width="${f1(LINE * s)}" stroke-linejoin="round" stroke-linecap="butt"/>`,
  )
  box(sequences)
  xTicks(sequences, axes.sequence, false)
  yTicks(sequences, axes.count, 'left')
  text(REF.yLabelBaseline * s, sequences.top + sequences.height / 2, '# sequences', 'middle', font, true)

  // Lower panel: the heat map is composited into `image` afterwards.
  box(image)
  xTicks(image, axes.sequence, true)
  yTicks(image, axes.sample, 'left')
  text(image.left + image.width / 2, REF.xLabelBaseline * s, 'Sequence number', 'middle')
  text(REF.yLabelBaseline * s, image.top + image.height / 2, 'Sample number (Range)', 'middle', font, true)

  box(colorbar)
  yTicks(colorbar, axes.power, 'right')
  text(REF.colorbarLabelBaseline * s, colorbar.top + colorbar.height / 2, 'Power (dB)', 'middle', font, true)

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}">${parts.join('')}</svg>`
}

/**
 * The heat map as RGB bytes of `rect`'s size: each pixel shows the bin under its centre
 * (nearest neighbour), lowest sample at the bottom; NaN bins are white (matplotlib's "bad").
 */
export function heatmapPixels(grid: PowerGrid, rect: Rect, minPower: number, maxPower: number): Buffer {
  const {width, height} = rect
  const out = Buffer.alloc(width * height * 3)
  const colOf = Int32Array.from({length: width}, (_, p) => Math.min(grid.columns - 1, Math.floor(((p + 0.5) * grid.columns) / width)))
  for (let y = 0; y < height; y++) {
    const row = grid.rows - 1 - Math.min(grid.rows - 1, Math.floor(((y + 0.5) * grid.rows) / height))
    const rowBase = row * grid.columns
    let o = y * width * 3
    for (let x = 0; x < width; x++, o += 3) {
      const index = plasmaIndex(grid.values[rowBase + colOf[x]!]!, minPower, maxPower)
      if (index < 0) {
        out[o] = out[o + 1] = out[o + 2] = 255
      } else {
        out[o] = PLASMA_RGB[3 * index]!
        out[o + 1] = PLASMA_RGB[3 * index + 1]!
        out[o + 2] = PLASMA_RGB[3 * index + 2]!
      }
    }
  }
  return out
}

/** The colour bar as RGB bytes: the 256 colormap entries from the bottom (min) to the top (max). */
export function colorbarPixels(rect: Rect): Buffer {
  const {width, height} = rect
  const out = Buffer.alloc(width * height * 3)
  for (let y = 0; y < height; y++) {
    const index = Math.min(255, Math.floor((1 - (y + 0.5) / height) * 256))
    for (let x = 0; x < width; x++) out.set(PLASMA_RGB.subarray(3 * index, 3 * index + 3), (y * width + x) * 3)
  }
  return out
}

export interface JpegOptions {
  /** JPEG quality (default 90; chroma is not subsampled, so thin coloured cells stay sharp). */
  quality?: number
}

/** Renders one antenna's figure to JPEG bytes. */
export async function renderIqFigure(spec: IqFigureSpec, layout: IqFigureLayout, grid: PowerGrid, options: JpegOptions = {}): Promise<Buffer> {
  ensureFontconfig()
  const {default: sharp} = await import('sharp')
  const raw = (rect: Rect) => ({width: rect.width, height: rect.height, channels: 3 as const})
  return sharp(Buffer.from(iqFigureSvg(spec, layout)))
    .composite([
      {input: heatmapPixels(grid, layout.image, spec.minPower, spec.maxPower), raw: raw(layout.image), left: layout.image.left, top: layout.image.top},
      {input: colorbarPixels(layout.colorbar), raw: raw(layout.colorbar), left: layout.colorbar.left, top: layout.colorbar.top},
    ])
    .flatten({background: '#ffffff'})
    .jpeg({quality: options.quality ?? 90, chromaSubsampling: '4:4:4'})
    .toBuffer()
}
