// BitSet as pvAccess puts it on the wire: bit n is bit (n mod 8) of byte n/8, trailing zero bytes omitted.
// Here it is kept as 32-bit words; field numbering (see field-numbering.ts) decides what each bit means.

export class BitSet {
  #words: number[];

  constructor(bits?: Iterable<number>) {
    this.#words = [];
    if (bits) for (const b of bits) this.set(b);
  }

  static of(...bits: number[]): BitSet {
    return new BitSet(bits);
  }

  set(bit: number): this {
    const w = bit >>> 5;
    while (this.#words.length <= w) this.#words.push(0);
    this.#words[w] = ((this.#words[w] as number) | (1 << (bit & 31))) >>> 0;
    return this;
  }

  clear(bit?: number): this {
    if (bit === undefined) {
      this.#words.length = 0;
      return this;
    }
    const w = bit >>> 5;
    if (w < this.#words.length) this.#words[w] = ((this.#words[w] as number) & ~(1 << (bit & 31))) >>> 0;
    return this;
  }

  get(bit: number): boolean {
    const w = bit >>> 5;
    return w < this.#words.length && (((this.#words[w] as number) >>> (bit & 31)) & 1) === 1;
  }

  isEmpty(): boolean {
    for (const w of this.#words) if (w !== 0) return false;
    return true;
  }

  /** True if any bit in [from, to) is set. */
  anyInRange(from: number, to: number): boolean {
    const n = this.nextSetBit(from);
    return n >= 0 && n < to;
  }

  /** Index of the first set bit at or after `from`, or -1. */
  nextSetBit(from: number): number {
    let w = from >>> 5;
    if (w >= this.#words.length) return -1;
    let word = (this.#words[w] as number) & (~0 << (from & 31));
    for (;;) {
      if (word !== 0) return (w << 5) + (31 - Math.clz32(word & -word));
      if (++w >= this.#words.length) return -1;
      word = this.#words[w] as number;
    }
  }

  or(other: BitSet): this {
    const o = other.#words;
    while (this.#words.length < o.length) this.#words.push(0);
    for (let i = 0; i < o.length; i++) this.#words[i] = ((this.#words[i] as number) | (o[i] as number)) >>> 0;
    return this;
  }

  /** Bits set in both. */
  intersects(other: BitSet): boolean {
    const n = Math.min(this.#words.length, other.#words.length);
    for (let i = 0; i < n; i++) if (((this.#words[i] as number) & (other.#words[i] as number)) !== 0) return true;
    return false;
  }

  copy(): BitSet {
    const b = new BitSet();
    b.#words = this.#words.slice();
    return b;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let b = this.nextSetBit(0); b >= 0; b = this.nextSetBit(b + 1)) yield b;
  }

  toArray(): number[] {
    return [...this];
  }

  /** Number of bytes on the wire (trailing zero bytes omitted). */
  byteLength(): number {
    const w = this.#words;
    let i = w.length;
    while (i > 0 && w[i - 1] === 0) i--;
    if (i === 0) return 0;
    const top = w[i - 1] as number;
    return (i - 1) * 4 + (top >>> 24 ? 4 : top >>> 16 ? 3 : top >>> 8 ? 2 : 1);
  }

  /** Byte i of the wire form. */
  byteAt(i: number): number {
    return ((this.#words[i >>> 2] ?? 0) >>> ((i & 3) * 8)) & 0xff;
  }

  /** OR byte i of the wire form into the set (decoding without an intermediate array). */
  orByte(i: number, v: number): void {
    if (v === 0) return;
    const w = i >>> 2;
    while (this.#words.length <= w) this.#words.push(0);
    this.#words[w] = ((this.#words[w] as number) | (v << ((i & 3) * 8))) >>> 0;
  }

  /** Bytes as sent on the wire, trailing zero bytes omitted. */
  toBytes(): Uint8Array {
    let n = this.#words.length * 4;
    const out = new Uint8Array(n);
    for (let i = 0; i < this.#words.length; i++) {
      const w = this.#words[i] as number;
      out[i * 4] = w & 0xff;
      out[i * 4 + 1] = (w >>> 8) & 0xff;
      out[i * 4 + 2] = (w >>> 16) & 0xff;
      out[i * 4 + 3] = (w >>> 24) & 0xff;
    }
    while (n > 0 && out[n - 1] === 0) n--;
    return out.subarray(0, n);
  }

  static fromBytes(bytes: Uint8Array): BitSet {
    const b = new BitSet();
    for (let i = 0; i < bytes.length; i++) {
      const v = bytes[i] as number;
      if (v === 0) continue;
      const w = i >>> 2;
      while (b.#words.length <= w) b.#words.push(0);
      b.#words[w] = ((b.#words[w] as number) | (v << ((i & 3) * 8))) >>> 0;
    }
    return b;
  }

  toString(): string {
    return `{${this.toArray().join(', ')}}`;
  }
}
