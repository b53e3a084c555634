// The pvAccess client of the commands that have one, kept out of common.ts so that a command
// without a network client (a pipeline stage) does not load the client at start-up.
import { PvaClient } from '../pva/client/client.js';
import type { CliContext } from './common.js';

/** A client configured from EPICS_PVA_* in the command's environment. */
export function makeClient(ctx: CliContext, timeoutMs: number): PvaClient {
  const client = new PvaClient({ env: ctx.env, timeoutMs });
  for (const w of client.config.warnings) ctx.err(`warning: ${w}`);
  return client;
}
