// The interactive antennas_iq page (`plot-iq --html`): one self-contained HTML file per input
// with every plotted antenna, each a zoomable plotly heat map under its sequences panel (shared
// sequence axis), colour bar "Power (dB)". It works offline: plotly.js-dist-min is read as text
// and inlined (it is a browser bundle, never imported in Node), the figure data travels as JSON
// in a second script element, and nothing is fetched. A 2-hour file is binned to at most
// HTML_MAX_COLUMNS sequence bins per antenna (mean dB, as for the JPEG) to keep the page a few MB.
import {readFile} from 'node:fs/promises'
import {createRequire} from 'node:module'

import type {AntennasIqIndex, PowerGrid} from './iq-data.js'
import {PLASMA_RGB} from './plasma.js'

export const HTML_MAX_COLUMNS = 1500
export const HTML_MAX_ROWS = 500

export interface IqHtmlInput {
  title: string
  index: AntennasIqIndex
  grids: readonly PowerGrid[]
  /** One title per grid. */
  titles: readonly string[]
  startSample: number
  endSample: number
  minPower: number
  maxPower: number
}

/** The figure data embedded in the page (its JSON is also what tests read back). */
export interface IqHtmlFigure {
  title: string
  minPower: number
  maxPower: number
  /** plotly colour scale: the 256 plasma entries. */
  colorscale: Array<[number, string]>
  /** The sequences panel, shared by every antenna. */
  firstSequence: number[]
  numSequences: number[]
  totalSequences: number
  /** Sequence index at the centre of each bin, and the sample number of each row. */
  x: number[]
  y: number[]
  antennas: Array<{antenna: number; title: string; z: Array<Array<number | null>>}>
}

let plotlySource: Promise<{text: string; version: string}> | undefined

/** plotly.min.js as text, from the plotly.js-dist-min package (source tree or the executable's cache). */
export function plotlyBundle(): Promise<{text: string; version: string}> {
  plotlySource ??= (async () => {
    const require = createRequire(import.meta.url)
    const file = require.resolve('plotly.js-dist-min')
    const text = await readFile(file, 'utf8')
    const version = /plotly\.js v(\d+\.\d+\.\d+)/.exec(text.slice(0, 200))?.[1] ?? 'unknown'
    return {text, version}
  })()
  return plotlySource
}

/**
 * Script text that cannot end its <script> element early: `</script` becomes `<\/script` (the
 * same string in JS strings, templates and regular expressions) and `<!--` becomes `\x3C!--`
 * (which keeps the HTML parser out of its "escaped" script states).
 */
export function inlineScript(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '\\x3C!--')
}

/** JSON for a `<script type="application/json">`: every `<` escaped, so no tag can start. */
export function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

export function iqHtmlFigure(input: IqHtmlInput): IqHtmlFigure {
  const {index, grids} = input
  const first = grids[0]
  const columns = first?.columns ?? 0
  const rows = first?.rows ?? 0
  const total = index.totalSequences
  const samples = input.endSample - input.startSample
  const colorscale: Array<[number, string]> = Array.from({length: 256}, (_, i) => [
    i / 255,
    `rgb(${PLASMA_RGB[3 * i]},${PLASMA_RGB[3 * i + 1]},${PLASMA_RGB[3 * i + 2]})`,
  ])
  // Bin centres in data units: the mean index of the sequences (samples) each bin holds.
  const centres = (n: number, bins: number, offset: number) =>
    Array.from({length: bins}, (_, b) => (bins === n ? b + offset : Math.round((((b + 0.5) * n) / bins - 0.5 + offset) * 10) / 10))
  return {
    title: input.title,
    minPower: input.minPower,
    maxPower: input.maxPower,
    colorscale,
    firstSequence: index.firstSequence,
    numSequences: index.numSequences,
    totalSequences: total,
    x: centres(total, columns, 0),
    y: centres(samples, rows, input.startSample),
    antennas: grids.map((grid, g) => ({
      antenna: grid.antenna,
      title: input.titles[g] ?? `antenna_${grid.antenna}`,
      z: Array.from({length: grid.rows}, (_, r) =>
        Array.from(grid.values.subarray(r * grid.columns, (r + 1) * grid.columns), (v) => (Number.isFinite(v) ? Math.round(v * 10) / 10 : null)),
      ),
    })),
  }
}

// Runs in the browser: one plot per antenna, sequences panel above the heat map.
const PAGE_SCRIPT = `
const fig = JSON.parse(document.getElementById('figure-data').textContent);
const root = document.getElementById('plots');
for (const a of fig.antennas) {
  const div = document.createElement('div');
  div.className = 'plot';
  div.id = 'antenna-' + a.antenna;
  root.appendChild(div);
  Plotly.newPlot(div, [
    {type: 'scatter', mode: 'lines+markers', x: fig.firstSequence, y: fig.numSequences, xaxis: 'x', yaxis: 'y2',
     line: {color: '#1f77b4'}, marker: {size: 4}, name: '# sequences', hovertemplate: 'sequence %{x}<br>%{y} sequences<extra></extra>'},
    {type: 'heatmap', x: fig.x, y: fig.y, z: a.z, xaxis: 'x', yaxis: 'y', zmin: fig.minPower, zmax: fig.maxPower,
     colorscale: fig.colorscale, zsmooth: false, name: 'antenna_' + a.antenna,
     colorbar: {title: {text: 'Power (dB)', side: 'right'}, len: 0.78, y: 0, yanchor: 'bottom'},
     hovertemplate: 'sequence %{x}<br>sample %{y}<br>%{z:.1f} dB<extra></extra>'}
  ], {
    title: {text: a.title, font: {size: 15}},
    showlegend: false,
    height: 640,
    margin: {l: 70, r: 30, t: 50, b: 50},
    xaxis: {title: {text: 'Sequence number'}, anchor: 'y', range: [-0.5, fig.totalSequences - 0.5]},
    yaxis: {title: {text: 'Sample number (Range)'}, domain: [0, 0.78]},
    yaxis2: {title: {text: '# sequences'}, domain: [0.83, 1], rangemode: 'tozero', anchor: 'x'}
  }, {responsive: true, displaylogo: false, scrollZoom: true});
}
`

export async function renderIqHtml(input: IqHtmlInput): Promise<string> {
  const plotly = await plotlyBundle()
  const figure = iqHtmlFigure(input)
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta name="generator" content="dataflow plot-iq (plotly.js ${escapeHtml(plotly.version)} inlined)">`,
    `<title>${escapeHtml(input.title)}</title>`,
    '<style>body{font-family:"DejaVu Sans",sans-serif;margin:16px;color:#111}h1{font-size:18px;font-weight:normal}.plot{margin-bottom:24px}</style>',
    '</head>',
    '<body>',
    `<h1>${escapeHtml(input.title)}</h1>`,
    '<div id="plots"></div>',
    `<script>${inlineScript(plotly.text)}</script>`,
    `<script type="application/json" id="figure-data">${inlineJson(figure)}</script>`,
    `<script>${inlineScript(PAGE_SCRIPT)}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n')
}
