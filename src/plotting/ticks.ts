// Axis ticks as matplotlib's default AutoLocator places them (MaxNLocator with steps 1, 2, 2.5, 5,
// 10 and at most `nbins` intervals), their labels as its ScalarFormatter prints them for
// ordinary ranges, and text widths in DejaVu Sans for laying labels out before rendering.

const STEPS = [1, 2, 2.5, 5, 10]

/**
 * Tick values within [vmin, vmax]: the smallest "nice" step (1, 2, 2.5, 5 × 10^k) that gives at
 * most `nbins` intervals across the range, at the multiples of that step inside the range.
 */
export function niceTicks(vmin: number, vmax: number, nbins: number): number[] {
  if (!(vmax > vmin) || !Number.isFinite(vmin) || !Number.isFinite(vmax)) return Number.isFinite(vmin) ? [vmin] : []
  const raw = (vmax - vmin) / Math.max(1, nbins)
  const scale = 10 ** Math.floor(Math.log10(raw))
  let step = 10 * scale
  for (const s of STEPS) {
    if (s * scale >= raw * (1 - 1e-9)) {
      step = s * scale
      break
    }
  }
  const eps = step * 1e-9
  const first = Math.ceil((vmin - eps) / step)
  const last = Math.floor((vmax + eps) / step)
  const ticks: number[] = []
  for (let i = first; i <= last; i++) ticks.push(i * step + 0) // + 0: never -0
  return ticks
}

/** Decimal places needed to print every tick of a step (2.5 → 1, 0.25 → 2, 10 → 0). */
function decimalsFor(ticks: readonly number[]): number {
  for (let d = 0; d < 6; d++) {
    if (ticks.every((t) => Math.abs(Math.round(t * 10 ** d) - t * 10 ** d) < 1e-6)) return d
  }
  return 6
}

/** Labels as matplotlib prints them: shared decimals, U+2212 minus sign. */
export function tickLabels(ticks: readonly number[]): string[] {
  const decimals = decimalsFor(ticks)
  return ticks.map((t) => {
    const text = (Math.abs(t) < 1e-12 ? 0 : t).toFixed(decimals)
    return text.startsWith('-') ? `\u2212${text.slice(1)}` : text
  })
}

/** Advance widths in DejaVu Sans, in em (hmtx / 2048), for the characters of tick labels. */
const DEJAVU_ADVANCE: Readonly<Record<string, number>> = {
  '0': 0.6362,
  '1': 0.6362,
  '2': 0.6362,
  '3': 0.6362,
  '4': 0.6362,
  '5': 0.6362,
  '6': 0.6362,
  '7': 0.6362,
  '8': 0.6362,
  '9': 0.6362,
  '.': 0.3179,
  ',': 0.3179,
  ' ': 0.3179,
  '-': 0.3608,
  '\u2212': 0.8379,
  '+': 0.8379,
  e: 0.6152,
}

/** Width of `text` in DejaVu Sans at `fontPx` (characters outside the table count as 0.62 em). */
export function textWidth(text: string, fontPx: number): number {
  let em = 0
  for (const ch of text) em += DEJAVU_ADVANCE[ch] ?? 0.62
  return em * fontPx
}
