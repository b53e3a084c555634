// sluice mailbox: serve writable PVs that keep whatever is put into them (PVXS's "mailbox"
// example), until Ctrl-C. Handy as a test fixture and for trying clients.
import { SharedPV } from '../../pv/shared-pv.js';
import { ntscalar, ntscalarArray } from '../../pvdata/nt/index.js';
import type { ScalarType } from '../../pvdata/types.js';
import type { PVValue } from '../../pvdata/values.js';
import { accessOptions, servingServer } from '../access-options.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { hostOption, portOption, verboseOption, whenAborted, type CliContext } from '../common.js';
import { formatValue } from '../format.js';
import { isScalarType, parseArrayText, parseJSONText, toScalar } from '../parse-value.js';

export const spec = defineCommand({
  name: 'mailbox',
  summary: 'Serve writable PVs that store and publish every value put to them, until Ctrl-C.',
  usage: ['[options] NAME[:TYPE][=VALUE]...'],
  description:
    'Each PV is an NTScalar (or NTScalarArray for TYPE[]) of double unless a TYPE is given: one of boolean, ' +
    'byte, short, int, long, ubyte, ushort, uint, ulong, float, double, string, optionally followed by []. ' +
    'Without a TYPE, a VALUE that is not a number makes a string PV, and a JSON array makes a double[] ' +
    '(string[] when it holds strings). A put that does not set timeStamp gets the current time. ' +
    'The first line printed is "listening on HOST:PORT". Searches are answered on the UDP port of ' +
    'EPICS_PVAS_BROADCAST_PORT (5076); a taken default TCP port falls back to a free one.',
  options: {
    port: portOption,
    host: hostOption,
    verbose: { ...verboseOption, description: 'Print every put: the PV, the new value and the client.' },
    ...accessOptions,
  },
  minPositionals: 1,
  examples: ['sluice mailbox TST:ao=1.5', "sluice mailbox --port 0 X:int=3 S:string=hello 'A:double[]=[1,2,3]'"],
});

interface MailboxSpec {
  name: string;
  valueType: ScalarType;
  array: boolean;
  value: PVValue | undefined;
}

/** `NAME[:TYPE][=VALUE]`; a `:word` that is no type name stays part of the PV name (TST:ao). */
export function parseMailboxSpec(text: string): MailboxSpec {
  const eq = text.indexOf('=');
  let name = eq >= 0 ? text.slice(0, eq) : text;
  const valueText = eq >= 0 ? text.slice(eq + 1) : undefined;
  let valueType: ScalarType | undefined;
  let array = false;
  const typed = /^(.+):([a-z]+)(\[\])?$/.exec(name);
  if (typed && isScalarType(typed[2] as string)) {
    name = typed[1] as string;
    valueType = typed[2] as ScalarType;
    array = typed[3] !== undefined;
  }
  if (!name) throw new UsageError(`'${text}' has no PV name`);
  try {
    if (!valueType) {
      if (valueText?.trimStart().startsWith('[')) {
        const items = parseJSONText(valueText, name);
        array = true;
        valueType = Array.isArray(items) && items.length > 0 && items.every((e) => typeof e === 'string') ? 'string' : 'double';
      } else {
        const numeric = valueText === undefined || (valueText.trim() !== '' && !Number.isNaN(Number(valueText)));
        valueType = numeric ? 'double' : 'string';
      }
    }
    let value: PVValue | undefined;
    if (valueText !== undefined) value = array ? parseArrayText(valueType, valueText, name) : toScalar(valueType, valueText, name);
    return { name, valueType, array, value };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const specs = args.positionals.map(parseMailboxSpec);
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new UsageError(`PV ${s.name} given twice`);
    names.add(s.name);
  }
  const server = await servingServer(args.values, ctx);
  const pvs = specs.map((s) => {
    const nt = s.array ? ntscalarArray : ntscalar;
    const initial = s.value ?? (s.array ? [] : toScalar(s.valueType, s.valueType === 'string' ? '' : '0', s.name));
    const { type, value } = nt.create(s.valueType, initial);
    // SharedPV.mailbox stores each put, stamping the time when the client sent none.
    const pv = SharedPV.mailbox();
    const store = pv.onPut;
    if (args.values.verbose && store) {
      pv.onPut = async (self, put) => {
        await store(self, put);
        ctx.out(`${s.name} ${formatValue(type, self.value ?? {}, false)} (put by ${put.peer})`);
      };
    }
    pv.open(type, value);
    server.addPV(s.name, pv);
    return { spec: s, pv, type };
  });
  const tcpPort = await server.listen();
  try {
    ctx.out(`listening on ${server.tcpHost}:${tcpPort}`);
    if (server.udpPort) ctx.out(`answering searches on UDP port ${server.udpPort}`);
    for (const p of pvs) {
      const typeText = `${p.spec.valueType}${p.spec.array ? '[]' : ''}`;
      ctx.out(`serving ${p.spec.name} (${typeText}) ${formatValue(p.type, p.pv.value ?? {}, false)}`);
    }
    await whenAborted(ctx.signal);
    return 0;
  } finally {
    // Connections first: clients then see a disconnect and wait for the PVs to come back,
    // where closing the PVs first would tell them the PVs are gone for good.
    await server.close();
    for (const p of pvs) p.pv.close();
  }
}
