// Bad numbers and names on the command line of the framework commands (consumer, collector,
// mirror, sim, demo): each is refused before anything starts, with exit status 2 and one line
// that names the option and its allowed range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loopbackEnv, startCli } from '../helpers/cli.js';

const cases: [string[], RegExp][] = [
  [
    ['consumer', '-ic', 'x', '-cid', 'range(1,1000000000000)'],
    /^sluice consumer: --consumer-id-list: 'range\(1,1000000000000\)' has 999999999999 ids; at most 256 are allowed$/,
  ],
  [['consumer', '-ic', 'x', '-nc', '1000000000'], /^sluice consumer: --n-consumers must be an integer from 1 to 256, not '1000000000'$/],
  [['consumer', '-ic', 'x', '-nc', '0'], /^sluice consumer: --n-consumers must be an integer from 1 to 256, not '0'$/],
  [['consumer', '-ic', 'x', '-nc', '-3'], /^sluice consumer: --n-consumers must be an integer from 1 to 256, not '-3'$/],
  [['consumer', '-ic', 'x', '-nc', '2.5'], /^sluice consumer: --n-consumers must be an integer from 1 to 256, not '2.5'$/],
  [['consumer', '-ic', 'x', '-sqs', '-5'], /^sluice consumer: --server-queue-size must be an integer from 0 to 1000000, not '-5'$/],
  [
    ['consumer', '-ic', 'x', '-rqs', '1e9'],
    /^sluice consumer: --receiver-queue-size must be an integer up to 1000000 \(< 0: none, 0: unbounded\), not '1e9'$/,
  ],
  [
    ['consumer', '-ic', 'x', '-rt', '1e12'],
    /^sluice consumer: --runtime must be a number up to 2147483 \(<= 0: until stopped\), not '1e12'$/,
  ],
  [['consumer', '-ic', 'x', '-id', '-1'], /^sluice consumer: --consumer-id must be an integer from 0 to 4294967295, not '-1'$/],
  [['consumer', '-ic', 'x', '-du', '0'], /^sluice consumer: --distributor-updates must be an integer from 1 to 1000000, not '0'$/],
  [['consumer', '-ic', ''], /^sluice consumer: --input-channel must not be empty$/],
  [['consumer', '-ic', 'x', '-cc', ' '], /^sluice consumer: --control-channel must not be empty$/],
  [['consumer', '-ic', 'x', '-cid', '1,1'], /^sluice consumer: --consumer-id-list: '1,1' has the same id twice$/],
  [
    ['collector', '-ic', 'x', '-pid', 'range(0,100000000)'],
    /^sluice collector: --producer-id-list: 'range\(0,100000000\)' has 100000000 ids; at most 256 are allowed$/,
  ],
  [['collector', '-ic', 'x', '-sqs', '-1'], /^sluice collector: --server-queue-size must be an integer from 0 to 1000000, not '-1'$/],
  [['collector', '-ic', 'x', '-ct', '-1'], /^sluice collector: --cache-timeout must be a number from 0 to 2147483, not '-1'$/],
  [
    ['collector', '-ic', 'x', '-ccs', '1e7'],
    /^sluice collector: --collector-cache-size must be an integer up to 1000000 \(< 0: 10 x the producers\), not '1e7'$/,
  ],
  [
    ['mirror', '-cm', '(a,b)', '-rp', '1e10'],
    /^sluice mirror: --report-period must be a number up to 2147483 \(<= 0: never\), not '1e10'$/,
  ],
  [
    ['sim', '--port', '0', '-fps', '1e12'],
    /^sluice sim: --frame-rate must be a number up to 1000000 \(<= 0: as fast as possible\), not '1e12'$/,
  ],
  [['sim', '--port', '0', '-cn', ''], /^sluice sim: --channel-name must not be empty$/],
  [['sim', '--port', '0', '-cs', '0'], /^sluice sim: --cache-size must be an integer from 1 to 1000000, not '0'$/],
  [['sim', '--port', '0', '-nx', '1.5'], /^sluice sim: --n-x-pixels must be an integer from 1 to 1048576, not '1.5'$/],
  [['demo', '--consumers', '1000000000'], /^sluice demo: --consumers must be an integer from 1 to 256, not '1000000000'$/],
  [
    ['demo', '--rate', '1e12'],
    /^sluice demo: --rate must be a number up to 1000000 \(0: as fast as the consumers take them\), not '1e12'$/,
  ],
  [['demo', '--queue-size', '0'], /^sluice demo: --queue-size must be an integer from 1 to 1000000, not '0'$/],
];

test(
  'out-of-range numbers and empty names are refused: exit 2, one line naming the option and its range',
  { timeout: 60_000 },
  async (t) => {
    const env = await loopbackEnv();
    // A few at a time: each is a Node process, and the machine is small.
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(
        cases.slice(i, i + 4).map(async ([args, re]) => {
          const p = startCli(t, args, env);
          assert.equal(await p.exited, 2, `sluice ${args.join(' ')}: ${p.stderr()}`);
          const first = p.stderr().split('\n')[0] as string;
          assert.match(first, re, `sluice ${args.join(' ')}`);
        }),
      );
    }
  },
);
