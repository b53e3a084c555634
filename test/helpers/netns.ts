// A small network of "hosts" for multi-host tests: Linux network namespaces, each with its own
// loopback and one Ethernet interface on a bridge that lives in a namespace of its own, so the
// machine's own network is never touched. Needs root and iproute2; netnsUnavailable() says why
// not when they are missing, so tests can skip with a visible reason.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/** Why namespaces cannot be made here, or null when they can (tries `ip netns add` for real). */
export async function netnsUnavailable(): Promise<string | null> {
  const name = `sluice-probe-${process.pid}`;
  try {
    await ip('netns', 'add', name);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    const why = err.code === 'ENOENT' ? 'iproute2 (ip) is not installed' : (err.stderr ?? err.message).trim();
    return `cannot create network namespaces (needs root and iproute2): \`ip netns add\` failed: ${why}`;
  }
  await ip('netns', 'del', name);
  return null;
}

export interface NetHost {
  /** Namespace name. */
  ns: string;
  /** Address of its eth0 on the bridge (a /24). */
  address: string;
  /** Run a program inside the namespace. */
  spawn(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess;
}

export interface Lab {
  hosts: NetHost[];
  /** Kill what was spawned, then delete every namespace (and with them the links). */
  remove(): Promise<void>;
}

/**
 * `count` hosts 10.R.0.1, 10.R.0.2, … on one bridge (R from the process id, so that two test
 * runs on one machine do not share names). Each host's lo is up, so the local multicast
 * fan-out on 127.0.0.1 works as on a real host.
 */
export async function makeLab(count: number): Promise<Lab> {
  const tag = `sl${process.pid}`;
  const sw = `${tag}-sw`;
  const names: string[] = [];
  const children: ChildProcess[] = [];
  const remove = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('close', r)) : null)));
    for (const ns of [...names, sw]) await ip('netns', 'del', ns).catch(() => undefined);
  };
  const net = `10.${100 + (process.pid % 100)}.0`;
  try {
    await ip('netns', 'add', sw);
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    const hosts: NetHost[] = [];
    for (let i = 1; i <= count; i++) {
      const ns = `${tag}-h${i}`;
      await ip('netns', 'add', ns);
      names.push(ns);
      await ip('-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up');
      const address = `${net}.${i}`;
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'brd', '+', 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      hosts.push({
        ns,
        address,
        spawn: (command, args, env) => {
          const c = spawn('ip', ['netns', 'exec', ns, command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
          children.push(c);
          return c;
        },
      });
    }
    return { hosts, remove };
  } catch (e) {
    await remove();
    throw e;
  }
}
