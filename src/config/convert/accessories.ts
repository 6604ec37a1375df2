/**
 * `accessories:` -> AccessoryConfig[]: the checks that look across sections (names that would clash with boxship's
 * own containers on the service network, hosts that must be in hosts:), and volumes, which the app shares.
 */
import { privateAddressOf, servingHost, unusablePrivateAddress } from '../accessory-reach.js';
import type { PathSegment } from '../problems.js';
import type { RawConfig } from '../schema.js';
import type { AccessoryConfig, HostConfig, VolumeConfig } from '../types.js';
import { type At, commandWords, pickHosts } from './common.js';

export function toVolumes(volumes: RawConfig['app']['volumes']): VolumeConfig[] {
  return Object.entries(volumes).map(([name, mount]) =>
    typeof mount === 'string' ? { name, path: mount, readOnly: false } : { name, path: mount.path, readOnly: mount.mode === 'ro' },
  );
}

/** Names the instances and the proxy use on the service network; an accessory named so would take one of them. */
const RESERVED_ACCESSORY_NAMES = new Set(['proxy']);

/**
 * An accessory that some hosts lack is reached from them at its first host's private address: that address must be
 * one the other servers can dial and Docker can publish on, else nothing on those hosts could reach it.
 */
function checkReach(hosts: HostConfig[], name: string, onHosts: string[], port: number | undefined, at: At): void {
  const serving = servingHost(hosts, { hosts: onHosts, port });
  if (!serving) return;
  const why = unusablePrivateAddress(privateAddressOf(serving));
  if (!why) return;
  const index = hosts.indexOf(serving);
  const without = hosts.filter((h) => !onHosts.includes(h.name)).map((h) => h.name);
  at(
    serving.privateAddress !== undefined ? ['hosts', index, 'private_address'] : ['hosts', index],
    `accessory ${name} does not run on ${without.join(', ')}: the app there reaches it at the private address of ${serving.name} (its first host), but ${why}`,
    `set private_address on that host: { address: ${serving.name}, private_address: <the IP the other servers reach it at, e.g. 10.0.0.5> }, or run ${name} on every host (hosts: [...])`,
  );
}

export function toAccessories(
  raw: NonNullable<RawConfig['accessories']>,
  service: string,
  hosts: HostConfig[],
  checkSecrets: (where: PathSegment[], written: string) => string,
  at: At,
): AccessoryConfig[] {
  return Object.entries(raw).map(([name, a]): AccessoryConfig => {
    if (RESERVED_ACCESSORY_NAMES.has(name)) {
      at(['accessories', name], `${name} is a name boxship uses itself (the container ${service}-${name} is the proxy)`, 'pick another name, e.g. db or cache');
    } else if (name.startsWith(`${service}-`)) {
      at(
        ['accessories', name],
        `${name} could take the name of one of the instances (${service}-1, ${service}-1-blue) on the service network`,
        `pick a name that does not start with ${service}-`,
      );
    }
    const written = a.hosts ?? (a.host !== undefined ? [a.host] : []);
    const where = (i: number) => (a.hosts ? ['accessories', name, 'hosts', i] : ['accessories', name, 'host']);
    const onHosts = written.length === 0 ? [hosts[0]!.name] : pickHosts(hosts, written, where, at);
    checkReach(hosts, name, onHosts, a.port, at);
    return {
      name,
      image: a.image,
      hosts: onHosts,
      ...(a.port !== undefined ? { port: a.port } : {}),
      ...(a.publish !== undefined ? { publish: a.publish } : {}),
      env: a.env,
      ...(a.secrets_file !== undefined ? { secretsFile: checkSecrets(['accessories', name, 'secrets_file'], a.secrets_file) } : {}),
      volumes: toVolumes(a.volumes),
      ...(a.cmd !== undefined ? { cmd: commandWords(a.cmd) } : {}),
      stopTimeoutSeconds: a.stop_timeout_seconds,
      ...(a.stop_signal !== undefined ? { stopSignal: a.stop_signal } : {}),
    };
  });
}
