// Station code → SuperDARN station id (`stid`), the standard table pyDARNio's converter uses
// (pyDARNio's `code_to_stid`). An unknown code is a conversion error, as in the original.
export const STATION_IDS: Readonly<Record<string, number>> = {
  tst: 0, gbr: 1, sch: 2, kap: 3, hal: 4, sas: 5, pgr: 6, kod: 7,
  sto: 8, pyk: 9, han: 10, san: 11, sys: 12, sye: 13, tig: 14, ker: 15,
  ksr: 16, unw: 18, zho: 19, mcm: 20, fir: 21, sps: 22, bpk: 24, wal: 32,
  bks: 33, hok: 40, hkw: 41, inv: 64, rkn: 65, cly: 66, dce: 96, svb: 128,
  fhw: 204, fhe: 205, cvw: 206, cve: 207, adw: 208, ade: 209, ekb: 512,
}

export function stationId(code: string): number | undefined {
  return Object.hasOwn(STATION_IDS, code) ? STATION_IDS[code] : undefined
}
