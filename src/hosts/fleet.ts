/**
 * Connections to the configured hosts, opened in parallel. A host that cannot be reached is reported, not fatal:
 * the others carry on and the caller decides the exit code.
 */
import { findHost } from '../config/host-lookup.js';
import type { Config, HostConfig } from '../config/types.js';
import { BoxshipError, InputError } from '../util/errors.js';
import { type ConnectOptions, SshHost } from './ssh.js';

/** The hosts a command acts on: all of them, or those named with --host (as findHost reads a host's name). */
export function selectHosts(config: Config, names: string[] | undefined): HostConfig[] {
  if (!names || names.length === 0) return config.hosts;
  const picked = names.map((n) => {
    const h = findHost(config.hosts, n);
    if (!h) throw new InputError(`--host ${n} is not a host in ${config.file}`, { hint: `hosts are: ${config.hosts.map((c) => c.name).join(', ')}` });
    return h;
  });
  return [...new Set(picked)];
}

export type Connection = { host: HostConfig; ssh: SshHost; error?: undefined } | { host: HostConfig; ssh?: undefined; error: Error };

/** Open connections to some hosts: every command connects through openFleet, and closes them with close(). */
export interface Fleet {
  /** Every host asked for, connected or not, in the order given. */
  readonly connections: Connection[];
  /** The connected ones, in the order given. */
  readonly hosts: SshHost[];
  /** The ones that could not be reached, with why. */
  readonly unreachable: { host: HostConfig; error: Error }[];
  close(): void;
}

export interface OpenFleetOptions extends ConnectOptions {
  /**
   * A change must not start on a fleet it cannot finish: with requireAll, one unreachable host closes the rest and
   * throws, naming every host that could not be reached. Reads (status, logs, releases) leave it off and report them.
   */
  requireAll?: boolean;
}

/** The one way boxship connects to hosts. */
export async function openFleet(hosts: HostConfig[], options: OpenFleetOptions = {}): Promise<Fleet> {
  const connections = await connectAll(hosts, options);
  const unreachable = connections.flatMap((c) => (c.error ? [{ host: c.host, error: c.error }] : []));
  const fleet: Fleet = {
    connections,
    hosts: connections.flatMap((c) => (c.ssh ? [c.ssh] : [])),
    unreachable,
    close: () => closeAll(connections),
  };
  if (options.requireAll && unreachable.length) {
    fleet.close();
    const first = unreachable[0]!.error;
    throw new BoxshipError(
      `cannot reach ${unreachable.map((d) => d.host.name).join(', ')}; nothing was changed:\n${unreachable.map((d) => `  ${d.error.message}`).join('\n')}`,
      { hint: first instanceof BoxshipError ? first.hint : 'check the hosts, then run the command again' },
    );
  }
  return fleet;
}

function connectAll(hosts: HostConfig[], options: ConnectOptions = {}): Promise<Connection[]> {
  return Promise.all(
    hosts.map((host) =>
      SshHost.connect(host, options).then(
        (ssh) => ({ host, ssh }) as Connection,
        (error: Error) => ({ host, error }) as Connection,
      ),
    ),
  );
}

function closeAll(conns: Connection[]): void {
  for (const c of conns) c.ssh?.close();
}
