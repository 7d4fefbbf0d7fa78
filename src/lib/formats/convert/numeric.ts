// The numeric semantics the reference converter inherits from NumPy 1.x and Python, as its
// reference outputs (test/fixtures/borealis/) show: integer casts wrap modulo 2^n, float → int
// truncates, round() is half-to-even, timestamps convert like datetime.utcfromtimestamp.

// ToInt32 (`| 0`, `<<`) is exact arithmetic modulo 2^32 on any integral double, so these wrap
// correctly for every integer value a dataset can hold as a number.

/** Low 16 bits as signed (np.int16(x) for an integer x). */
export function wrap16(value: number | bigint): number {
  if (typeof value === 'bigint') return Number(BigInt.asIntN(16, value))
  return (value << 16) >> 16
}

/** Low 32 bits as signed. */
export function wrap32(value: number | bigint): number {
  if (typeof value === 'bigint') return Number(BigInt.asIntN(32, value))
  return value | 0
}

/** np.int16(x) for a float x: truncate toward zero, then wrap. Null when x is not finite. */
export function int16OfFloat(x: number): number | null {
  return Number.isFinite(x) ? wrap16(Math.trunc(x)) : null
}

export function int32OfFloat(x: number): number | null {
  return Number.isFinite(x) ? wrap32(Math.trunc(x)) : null
}

/** Python's round() for floats: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x)
  const diff = x - floor
  if (diff < 0.5) return floor
  if (diff > 0.5) return floor + 1
  return floor % 2 === 0 ? floor : floor + 1
}

export interface UtcTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  microsecond: number
  /** 0 = Sunday. */
  weekday: number
}

/**
 * datetime.utcfromtimestamp(ts): the fraction is rounded to whole microseconds half-to-even and
 * may carry into the next second (…33.9999996 → …34.000000).
 */
export function utcFromTimestamp(ts: number): UtcTime {
  let seconds = Math.trunc(ts)
  let us = roundHalfEven((ts - seconds) * 1e6)
  if (us >= 1_000_000) {
    seconds += 1
    us -= 1_000_000
  } else if (us < 0) {
    seconds -= 1
    us += 1_000_000
  }
  const date = new Date(seconds * 1000)
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    microsecond: us,
    weekday: date.getUTCDay(),
  }
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad2 = (n: number) => String(n).padStart(2, '0')

/** C-locale `%c` (`%a %b %e %H:%M:%S %Y`), e.g. `Wed Oct  4 14:00:03 2023`. */
export function cTime(t: UtcTime): string {
  return `${DAYS[t.weekday]} ${MONTHS[t.month - 1]} ${String(t.day).padStart(2, ' ')} ${pad2(t.hour)}:${pad2(t.minute)}:${pad2(t.second)} ${t.year}`
}
