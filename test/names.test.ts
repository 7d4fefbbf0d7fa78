import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {
  blockPrefix,
  borealisToDmapName,
  checkTimestamp,
  dmapToBorealisName,
  parseBorealisName,
  parseDmapName,
  parsePlotName,
} from '../src/lib/formats/names.js'

describe('Borealis → DMAP names', () => {
  const cases: Array<[string, string]> = [
    ['20231004.1400.00.pgr.1.rawacf.h5', '20231004.1400.00.pgr.b.rawacf.bz2'],
    ['/sddata/sas_holding_dir/20231004.1400.00.sas.0.rawacf.h5', '/sddata/sas_holding_dir/20231004.1400.00.sas.a.rawacf.bz2'],
    ['/a/b/20231004.1400.00.pgr.25.rawacf.h5', '/a/b/20231004.1400.00.pgr.z.rawacf.bz2'],
    ['20231004.1400.00.pgr.08.rawacf.h5', '20231004.1400.00.pgr.i.rawacf.bz2'],
    ['20231004.1400.00.pgr.007.rawacf.h5', '20231004.1400.00.pgr.h.rawacf.bz2'],
    // The original produced garbage for legacy .hdf5 names; the slice maps the same way.
    ['20231004.1400.00.pgr.1.rawacf.hdf5', '20231004.1400.00.pgr.b.rawacf.bz2'],
  ]
  for (const [input, output] of cases) it(`${input} → ${output}`, () => assert.equal(borealisToDmapName(input), output))

  const errors: Array<[string, RegExp]> = [
    ['20231004.1400.00.pgr.26.rawacf.h5', /outside range 0-25/],
    ['20231004.1400.00.pgr.200.rawacf.h5', /outside range 0-25/],
    ['20231004.1400.00.pgr.1.antennas_iq.h5', /Unable to generate DMAP file from type antennas_iq/],
    ['20231004X1400.00.pgr.1.rawacf.h5', /not a Borealis file name/],
    ['20231304.1400.00.pgr.1.rawacf.h5', /not a valid UTC date/],
    ['20231004.2460.00.pgr.1.rawacf.h5', /not a valid UTC date/],
  ]
  for (const [input, error] of errors) it(`${input} is rejected`, () => assert.throws(() => borealisToDmapName(input), error))
})

describe('DMAP → Borealis names', () => {
  it('gives .rawacf.h5 (the original gave .hdf5)', () => {
    assert.equal(dmapToBorealisName('20231004.1400.00.pgr.b.rawacf.bz2'), '20231004.1400.00.pgr.1.rawacf.h5')
    assert.equal(dmapToBorealisName('/x/20231004.1400.00.pgr.a.rawacf'), '/x/20231004.1400.00.pgr.0.rawacf.h5')
  })
  it('rejects multi-letter channels and legacy names without channel', () => {
    assert.throws(() => dmapToBorealisName('20231004.1400.00.pgr.ab.rawacf.bz2'), /not a DMAP rawacf file name/)
    assert.throws(() => dmapToBorealisName('20231004.1400.00.pgr.rawacf.bz2'), /without a channel letter/)
  })
})

describe('parsers', () => {
  it('parses Borealis names into typed fields (UTC)', () => {
    const name = parseBorealisName('/d/20231004.1400.51.rkn.3.rawacf.h5')
    assert.equal(name.station, 'rkn')
    assert.equal(name.slice, 3)
    assert.equal(name.type, 'rawacf')
    assert.equal(name.v1, true)
    assert.equal(name.time.toISOString(), '2023-10-04T14:00:51.000Z')
    assert.equal(parseBorealisName('20231004.1400.51.rkn.3.rawacf.hdf5.site').site, true)
  })
  it('parses DMAP and plot names', () => {
    assert.deepEqual(
      {...parseDmapName('20231004.1600.00.cly.a.rawacf.bz2'), time: undefined},
      {kind: 'dmap', date: '20231004', hhmm: '1600', ss: '00', time: undefined, station: 'cly', channel: 'a', compressed: true},
    )
    const plot = parsePlotName('20231004.1400.00.sas.0.antennas_iq.antenna_19_0_70.jpg')
    assert.equal(plot.antenna, 19)
    assert.equal(plot.endSample, 70)
  })
  it('blockPrefix is the first three dot-fields', () => {
    assert.equal(blockPrefix('/x/20231004.1400.00.sas.0.rawacf.h5'), '20231004.1400.00')
    assert.equal(blockPrefix('notes.txt'), null)
  })
})

describe('check_timestamp', () => {
  const file = '20231004.1400.00.sas.0.rawacf.h5'
  it('passes at the nominal time and at exactly one day', () => {
    assert.equal(checkTimestamp(file, new Date('2023-10-04T14:00:00Z')).ok, true)
    assert.equal(checkTimestamp(file, new Date('2023-10-05T14:00:00Z')).ok, true)
    assert.equal(checkTimestamp(file, new Date('2023-10-03T14:00:00Z')).ok, true)
  })
  it('fails one second past a day, either way', () => {
    assert.equal(checkTimestamp(file, new Date('2023-10-05T14:00:01Z')).ok, false)
    assert.equal(checkTimestamp(file, new Date('2023-10-03T13:59:59Z')).ok, false)
  })
  it('ignores the seconds field of the name', () => {
    const r = checkTimestamp('20231004.1400.59.sas.0.rawacf.h5', new Date('2023-10-05T14:00:00Z'))
    assert.equal(r.ok, true)
    assert.equal(r.skewSeconds, 86400)
  })
  it('accepts any timestamped type and rejects other names', () => {
    assert.equal(checkTimestamp('20231004.1400.00.sas.a.rawacf.bz2', new Date('2023-10-04T15:00:00Z')).ok, true)
    assert.throws(() => checkTimestamp('photo.jpg', new Date()), /not a timestamped data file name/)
  })
})
