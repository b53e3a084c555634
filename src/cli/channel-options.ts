// What every `sluice channel` subcommand shares: how to reach the channel server and under which
// client name, and the client itself.
import { ChannelClient } from '../channels/client.js';
import { DEFAULT_PREFIX } from '../channels/protocol.js';
import type { OptionSpec } from './args.js';
import { describeFailure, parseSeconds, type CliContext } from './common.js';

export const channelClientOptions = {
  server: {
    type: 'string',
    short: 's',
    value: 'HOST:PORT',
    description: 'The channel server (default: found by the pvAccess search, EPICS_PVA_ADDR_LIST / EPICS_PVA_NAME_SERVERS).',
  },
  prefix: { type: 'string', value: 'PREFIX', description: `PV name prefix of the server (default ${DEFAULT_PREFIX}).` },
  name: { type: 'string', value: 'NAME', description: 'Client name to register under (default sluice-cli-<pid>).' },
  timeout: {
    type: 'string',
    short: 'w',
    value: 'SEC',
    description: 'Seconds to wait for the server to answer a request.',
    default: '5',
  },
} as const satisfies Record<string, OptionSpec>;

export interface ChannelClientValues {
  server?: string;
  prefix?: string;
  name?: string;
  timeout?: string;
}

export async function connectChannelClient(values: ChannelClientValues, ctx: CliContext): Promise<ChannelClient> {
  const timeoutMs = parseSeconds(values.timeout ?? '5', '--timeout');
  return ChannelClient.connect({
    ...(values.server ? { address: values.server } : { env: ctx.env }),
    prefix: values.prefix ?? DEFAULT_PREFIX,
    name: values.name ?? `sluice-cli-${process.pid}`,
    timeoutMs,
  });
}

/**
 * What each subcommand does around its work: connect, run `body` with the client, and close the
 * client (its writers' end marks, its channels unless persistent). A failure is told on stderr,
 * naming `about` (the channel) when the message does not, and is exit status 1.
 */
export async function withChannelClient(
  values: ChannelClientValues,
  ctx: CliContext,
  about: string | undefined,
  body: (client: ChannelClient) => Promise<number>,
): Promise<number> {
  const client = await connectChannelClient(values, ctx);
  try {
    return await body(client);
  } catch (err) {
    ctx.err(describeFailure(err, about));
    return 1;
  } finally {
    await client.close();
  }
}
