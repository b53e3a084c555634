// The child side of ProcessSpawner: reads its configuration from the parent over the fork IPC
// channel, starts an RPCServer that allows imports, reports its address (or why it could not
// start) and exits when the server closes or the parent goes away.
import { RPCServer } from './server.js';

interface BootConfig {
  name: string;
  host: string;
}

function send(msg: object): void {
  process.send?.(msg);
}

process.once('message', (config: BootConfig) => {
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
