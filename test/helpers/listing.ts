// Parser for the decoded capture listings (pva-captures/*.txt) written next to each pcap:
//   TCP 127.0.0.1:5075 -> 127.0.0.1:53094
//     [S] CTRL SET_BYTE_ORDER v2 flags=0x41 value=0x00000000
//     [S] GET v2 flags=0x50 seg=first len=129: 51 60 70 80 00 ff ...
// Each block is one direction of one TCP connection (or one UDP datagram) and lists the message
// headers it carried, in order, with the first bytes of each payload ("..." when cut).
import { readFileSync } from 'node:fs';

export interface ListedSegment {
  /** [S] or [C] in the listing: what the FROM_SERVER flag says. */
  role: 'S' | 'C';
  control: boolean;
  name: string;
  version: number;
  flags: number;
  segment: 'none' | 'first' | 'middle' | 'last';
  /** Payload size (application messages). */
  len: number;
  /** The header's size field (control messages). */
  value: number;
  /** Leading payload bytes as listed. */
  bytes: Uint8Array;
  /** False when the listing cut the payload short ("..."). */
  complete: boolean;
}

export interface ListingBlock {
  proto: 'TCP' | 'UDP';
  src: { host: string; port: number };
  dst: { host: string; port: number };
  segments: ListedSegment[];
  line: number;
}

const HEAD = /^(TCP|UDP) ([\d.]+):(\d+) -> ([\d.]+):(\d+)$/;
const MSG =
  /^ {2}\[([SC])\] (CTRL )?([A-Z_]+) v(\d+) flags=0x([0-9a-f]{2})(?: seg=(first|middle|last))?(?: len=(\d+):(.*)| value=0x([0-9a-f]{8}))$/;

export function parseListing(text: string): ListingBlock[] {
  const blocks: ListingBlock[] = [];
  let cur: ListingBlock | null = null;
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const h = HEAD.exec(line);
    if (h) {
      cur = {
        proto: h[1] as 'TCP' | 'UDP',
        src: { host: h[2]!, port: Number(h[3]) },
        dst: { host: h[4]!, port: Number(h[5]) },
        segments: [],
        line: i + 1,
      };
      blocks.push(cur);
      return;
    }
    const m = MSG.exec(line);
    if (!m || !cur) throw new Error(`listing line ${i + 1} not understood: ${line}`);
    let hex = (m[8] ?? '').trim();
    const complete = !hex.endsWith('...');
    if (!complete) hex = hex.slice(0, -3).trim();
    const bytes = hex === '' ? new Uint8Array(0) : Uint8Array.from(hex.split(/\s+/).map((x) => parseInt(x, 16)));
    (cur as ListingBlock).segments.push({
      role: m[1] as 'S' | 'C',
      control: m[2] !== undefined,
      name: m[3]!,
      version: Number(m[4]),
      flags: parseInt(m[5]!, 16),
      segment: (m[6] as ListedSegment['segment'] | undefined) ?? 'none',
      len: m[7] !== undefined ? Number(m[7]) : 0,
      value: m[9] !== undefined ? parseInt(m[9], 16) : 0,
      bytes,
      complete,
    });
  });
  return blocks;
}

export function readListing(path: string): ListingBlock[] {
  return parseListing(readFileSync(path, 'utf8'));
}
