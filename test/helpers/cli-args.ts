// Command lines of `sluice sim`, `consumer` and `collector` for end-to-end tests, built from an
// options object: a test names what it sets (`fps: 20`) instead of spelling a long list of
// flags and strings. Options come out in the order the object gives them; `true` is a flag
// without a value, `undefined` and `false` are left out. Anything else goes after, as given.

type Value = string | number | boolean | undefined;

function flags<K extends string>(command: string, table: Record<K, string>, o: Partial<Record<K, Value>>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(o) as [K, Value][]) {
    if (value === undefined || value === false) continue;
    const flag = table[key];
    if (flag === undefined) throw new Error(`sluice ${command}: no option for '${key}' in test/helpers/cli-args.ts`);
    out.push(flag);
    if (value !== true) out.push(String(value));
  }
  return out;
}

const SIM = {
  channel: '-cn',
  nx: '-nx',
  ny: '-ny',
  dtype: '-dt',
  fps: '-fps',
  nFrames: '-nf',
  runtime: '-rt',
  startDelay: '-std',
  shutdownDelay: '-shd',
  waitClients: '--wait-clients',
  waitTimeout: '--wait-timeout',
  reportPeriod: '-rp',
} as const;

const HOST = {
  input: '-ic',
  id: '-id',
  output: '-oc',
  status: '-sc',
  control: '-cc',
  serverQueueSize: '-sqs',
  receiverQueueSize: '-rqs',
  skipInitialUpdates: '-siu',
  processorFile: '-pf',
  processorClass: '-pc',
  processorArgs: '-pa',
  runtime: '-rt',
  reportPeriod: '-rp',
  reportStats: '-rs',
  disableCurses: '-dc',
} as const;

const CONSUMER = {
  ...HOST,
  inputMode: '-im',
  outputMode: '-om',
  nConsumers: '-nc',
  accumulateObjects: '-ao',
  accumulationTimeout: '-at',
  distributorUpdates: '--distributor-updates',
  distributorTrigger: '--distributor-trigger',
  distributorSet: '--distributor-set',
  nDistributorSets: '--n-distributor-sets',
} as const;

const COLLECTOR = {
  ...HOST,
  producers: '-pid',
  cacheSize: '-ccs',
  cacheTimeout: '-ct',
} as const;

export type SimOptions = Partial<Record<keyof typeof SIM, Value>>;
export type ConsumerOptions = Partial<Record<keyof typeof CONSUMER, Value>>;
export type CollectorOptions = Partial<Record<keyof typeof COLLECTOR, Value>>;

/** `sluice sim` with these options, then `rest`. */
export function simArgs(o: SimOptions, ...rest: string[]): string[] {
  return ['sim', ...flags('sim', SIM, o), ...rest];
}

/** `sluice consumer` with these options, then `rest` (e.g. a processor's options). */
export function consumerArgs(o: ConsumerOptions, ...rest: string[]): string[] {
  return ['consumer', ...flags('consumer', CONSUMER, o), ...rest];
}

/** `sluice collector` with these options, then `rest`. */
export function collectorArgs(o: CollectorOptions, ...rest: string[]): string[] {
  return ['collector', ...flags('collector', COLLECTOR, o), ...rest];
}
