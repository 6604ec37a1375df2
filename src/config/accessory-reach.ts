/**
 * How the app reaches an accessory from a host that does not run it (pure, from the config alone). The service
 * network is per host, so there the alias `<name>` would not resolve: the accessory's first host serves every host
 * without one, its port published on that host's private address only, and the app's containers there resolve
 * `<name>` to that address (an /etc/hosts line). One rule, so the config check, the accessory's `-p` and the
 * instances' `--add-host` always agree; it lives in config because the config check needs it too.
 */
import { isIP } from 'node:net';
import type { AccessoryConfig, Config, HostConfig } from './types.js';

/** Where the other hosts reach this one: private_address, else relay_address's host, else the address boxship dials. */
export function privateAddressOf(h: HostConfig): string {
  return h.privateAddress ?? h.relayAddress?.hostname ?? h.hostname;
}

/**
 * The host whose container of the accessory the hosts without one use: its first host, when some host of the
 * service lacks it and it has a port (without one there is nothing to publish). Undefined: per-host only.
 */
export function servingHost(hosts: readonly HostConfig[], a: Pick<AccessoryConfig, 'hosts' | 'port'>): HostConfig | undefined {
  if (a.port === undefined || hosts.every((h) => a.hosts.includes(h.name))) return undefined;
  return hosts.find((h) => h.name === a.hosts[0]);
}

/** The address the accessory's port is published on for the other hosts, when `host` is its serving host. */
export function privatePublish(config: Config, a: AccessoryConfig, host: string): string | undefined {
  const serving = servingHost(config.hosts, a);
  return serving?.name === host ? privateAddressOf(serving) : undefined;
}

/**
 * `<alias>:<address>` for the app's containers on `host`: one per accessory it does not run that another host
 * serves, in the order of boxship.yml (an instance's label compares them as one string).
 */
export function accessoryHostEntries(config: Config, host: string): string[] {
  return (config.accessories ?? []).flatMap((a) => {
    if (a.hosts.includes(host)) return [];
    const serving = servingHost(config.hosts, a);
    return serving ? [`${a.name}:${privateAddressOf(serving)}`] : [];
  });
}

/** The hosts (names) that serve `host` an accessory it does not run: they must run it before the app there needs it. */
export function hostsServing(config: Config, host: string): string[] {
  const names = new Set<string>();
  for (const a of config.accessories ?? []) {
    const serving = a.hosts.includes(host) ? undefined : servingHost(config.hosts, a);
    if (serving) names.add(serving.name);
  }
  return [...names];
}

/**
 * Why `address` cannot be where other servers' containers connect to (and the port be published on), or undefined
 * when it can: it must be an IP (Docker takes no name there) and neither loopback nor "any".
 */
export function unusablePrivateAddress(address: string): string | undefined {
  const v = isIP(address);
  if (v === 0) return `${address} is not an IP address`;
  if (v === 4 ? address.startsWith('127.') || address === '0.0.0.0' : address === '::1' || address === '::') {
    return `${address} is a ${address.startsWith('127.') || address === '::1' ? 'loopback' : 'wildcard'} address, which the other servers cannot reach`;
  }
  return undefined;
}
