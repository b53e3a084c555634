// The child side of ProcessSpawner: reads its configuration from the parent over the fork IPC
// channel, hooks its console and output to send log records to the parent (log-hook.ts), starts
// an RPCServer that allows imports, reports its address (or why it could not start) and exits
// when the server closes or the parent goes away.
import { installLogHook } from './log-hook.js';
import { RPCServer } from './server.js';

interface BootConfig {
  name: string;
  host: string;
  /** Send console and output lines as log records (false: they go to the raw pipes). */
  logRecords: boolean;
}

function send(msg: object): void {
  process.send?.(msg);
}

process.once('message', (config: BootConfig) => {
  if (config.logRecords) installLogHook(config.name);
  RPCServer.start({ name: config.name, host: config.host, allowImport: true }).then(
    async (server) => {
      send({ address: server.address });
      await server.whenClosed();
      process.disconnect?.();
      process.exitCode = 0;
    },
    (err: unknown) => {
      send({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      process.exitCode = 1;
      process.disconnect?.();
    },
  );
});
// The parent is gone (or told us so): nothing is left to serve.
process.once('disconnect', () => setImmediate(() => process.exit(process.exitCode ?? 0)));
