// A FIFO of byte chunks from a stream, from which whole records are taken. It only ever holds
// bytes that really arrived, so its memory is bounded by the data, not by any size field.

export class ByteQueue {
  private chunks: Uint8Array[] = []
  private head = 0
  /** Bytes already consumed from chunks[head]. */
  private skip = 0
  length = 0

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.length += chunk.length
  }

  private byteAt(index: number): number {
    let i = index + this.skip
    for (let c = this.head; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!
      if (i < chunk.length) return chunk[i]!
      i -= chunk.length
    }
    throw new RangeError(`ByteQueue: byte ${index} not available (${this.length} queued)`)
  }

  /** Unsigned 32-bit little-endian integer at `index` (relative to the queue's start). */
  uint32(index: number): number {
    return (this.byteAt(index) | (this.byteAt(index + 1) << 8) | (this.byteAt(index + 2) << 16) | (this.byteAt(index + 3) << 24)) >>> 0
  }

  /** Removes and returns the first `n` bytes (n ≤ length): a view when they lie in one chunk, else a copy. */
  take(n: number): Uint8Array {
    if (n > this.length) throw new RangeError(`ByteQueue: ${n} bytes requested, ${this.length} queued`)
    const first = this.chunks[this.head]
    let out: Uint8Array
    if (first && first.length - this.skip >= n) {
      out = first.subarray(this.skip, this.skip + n)
      this.skip += n
    } else {
      out = new Uint8Array(n)
      let filled = 0
      while (filled < n) {
        const chunk = this.chunks[this.head]!
        const part = Math.min(chunk.length - this.skip, n - filled)
        out.set(chunk.subarray(this.skip, this.skip + part), filled)
        filled += part
        this.skip += part
        if (this.skip === chunk.length) this.advance()
      }
    }
    if (this.chunks[this.head] && this.skip === this.chunks[this.head]!.length) this.advance()
    this.length -= n
    return out
  }

  /** Drops everything queued. */
  clear(): void {
    this.chunks = []
    this.head = 0
    this.skip = 0
    this.length = 0
  }

  private advance(): void {
    this.head++
    this.skip = 0
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }
}
