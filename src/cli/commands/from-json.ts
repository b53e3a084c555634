// sluice from-json: JSON lines into a Sluice stream, so that jq, scripts and people can feed a
// pipeline. Each line is one value; its type is inferred (a new type record when it changes), or
// taken from a stream file with --type-from so values come back with their exact types.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { DecodeError } from '../../errors.js';
import { readStream, StreamOutput } from '../../pipeline/stdio.js';
import { inferType } from '../../pvdata/infer.js';
import { sameType, type StructureDesc } from '../../pvdata/types.js';
import type { PVStructure, PVValue } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { stdio, type CliContext } from '../common.js';
import { fromJSON } from '../parse-value.js';

export const spec = defineCommand({
  name: 'from-json',
  summary: 'Turn JSON lines (stdin or FILEs) into a Sluice stream, one value per line.',
  usage: ['[options] [FILE...]'],
  description:
    'Each non-empty line is a JSON object, one value. Its type is inferred as sluice put infers one (integers ' +
    'int, other numbers double, arrays of numbers double[], objects structures); a line of another type starts a ' +
    'new type record. With --type-from FILE every line is read as a value of the first type in that stream file ' +
    '(the output of sluice to-json comes back with its exact types). A line that is not a JSON object, or does ' +
    'not fit the type, stops the command with its line number and exit status 1.',
  options: {
    'type-from': { type: 'string', value: 'FILE', description: 'Read every line as a value of the first type in this stream file.' },
  },
  examples: [
    "sluice cat frames.sls | sluice to-json | jq -c '.uniqueId += 1000' | sluice from-json --type-from frames.sls | sluice to-json",
  ],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const out = new StreamOutput(stdio(ctx, 'stdout'));
  try {
    const fixed = args.values['type-from'] ? await firstType(args.values['type-from']) : null;
    let type: StructureDesc | null = fixed;
    for (const file of args.positionals.length ? args.positionals : ['-']) {
      const source = file === '-' ? 'stdin' : file;
      const lines = createInterface({ input: file === '-' ? stdio(ctx, 'stdin') : createReadStream(file), crlfDelay: Infinity });
      let n = 0;
      for await (const line of lines) {
        n++;
        if (!line.trim()) continue;
        const what = `${source} line ${n}`;
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch (err) {
          throw new DecodeError(`${what}: not JSON (${(err as Error).message})`);
        }
        if (json === null || typeof json !== 'object' || Array.isArray(json))
          throw new DecodeError(`${what}: a JSON object is needed, one value per line`);
        if (!fixed) {
          const inferred = inferType(json as PVValue);
          if (inferred.kind !== 'structure') throw new DecodeError(`${what}: a JSON object is needed`);
          if (!type || !sameType(type, inferred)) type = inferred;
        }
        const value = fromJSON(type as StructureDesc, json, what) as PVStructure;
        if (!out.write(type as StructureDesc, value)) await out.drained();
        if (out.closed) return 0;
      }
    }
    await out.end();
    return 0;
  } catch (err) {
    ctx.err(`sluice from-json: ${(err as Error).message}`);
    return 1;
  }
}

/** The first type record of a stream file. */
export async function firstType(file: string): Promise<StructureDesc> {
  const input = createReadStream(file);
  try {
    for await (const item of readStream(input, { source: file })) if (item.kind === 'type') return item.type;
  } finally {
    input.destroy();
  }
  throw new DecodeError(`${file}: the stream has no type record`);
}
