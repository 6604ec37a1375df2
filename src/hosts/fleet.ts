/**
 * Connections to the configured hosts, opened in parallel. A host that cannot be reached is reported, not fatal:
 * the others carry on and the caller decides the exit code.
 */
import type { Config, HostConfig } from '../config/types.js';
import { InputError } from '../util/errors.js';
import { type ConnectOptions, SshHost } from './ssh.js';

/** The hosts a command acts on: all of them, or those named with --host (by address or hostname). */
export function selectHosts(config: Config, names: string[] | undefined): HostConfig[] {
  if (!names || names.length === 0) return config.hosts;
  const picked = names.map((n) => {
    const h = config.hosts.find((c) => c.name === n || c.hostname === n || `${c.hostname}:${c.port}` === n);
    if (!h) throw new InputError(`--host ${n} is not a host in ${config.file}`, { hint: `hosts are: ${config.hosts.map((c) => c.name).join(', ')}` });
    return h;
  });
  return [...new Set(picked)];
}

export type Connection = { host: HostConfig; ssh: SshHost; error?: undefined } | { host: HostConfig; ssh?: undefined; error: Error };

export function connectAll(hosts: HostConfig[], options: ConnectOptions = {}): Promise<Connection[]> {
  return Promise.all(
    hosts.map((host) =>
      SshHost.connect(host, options).then(
        (ssh) => ({ host, ssh }) as Connection,
        (error: Error) => ({ host, error }) as Connection,
      ),
    ),
  );
}

export function closeAll(conns: Connection[]): void {
  for (const c of conns) c.ssh?.close();
}
