/**
 * `backend: swarm`: the manager must be one of the hosts, and what only the per-host backend reads (per-host
 * instances, accessories, roles, the rollout hooks) is refused rather than silently ignored.
 */
import { findHost } from '../host-lookup.js';
import type { RawConfig } from '../schema.js';
import type { HostConfig, SwarmConfig } from '../types.js';
import type { At } from './common.js';

export function swarmConfig(raw: RawConfig, hosts: HostConfig[], at: At): SwarmConfig | undefined {
  if (raw.backend !== 'swarm') {
    if (raw.swarm)
      at(['swarm'], 'swarm: is only read with backend: swarm', 'add backend: swarm (the hosts are the nodes of a Docker Swarm), or remove the swarm: section');
    return undefined;
  }
  if (raw.proxy.hosts)
    at(
      ['proxy', 'hosts'],
      'the Swarm backend does not serve proxy.hosts yet: its proxy runs on every node behind a published port, and certificates would have to be shared across nodes',
      'remove proxy.hosts and put your own TLS terminator in front of proxy.port on the nodes, or use the per-host backend (remove backend: swarm) for HTTPS by host name',
    );
  const s = raw.swarm ?? { constraints: [] };
  let manager = hosts[0]!.name;
  if (s.manager !== undefined) {
    const found = findHost(hosts, s.manager);
    if (found) manager = found.name;
    else
      at(
        ['swarm', 'manager'],
        `${JSON.stringify(s.manager)} is not one of hosts`,
        `write the manager as it is written in hosts: (${hosts.map((h) => h.name).join(', ')})`,
      );
  }
  raw.hosts.forEach((entry, i) => {
    if (typeof entry === 'object' && entry.instances !== undefined) {
      at(
        ['hosts', i, 'instances'],
        'per-host instances do not apply with backend: swarm',
        'remove it and set swarm.replicas: the swarm places the tasks on the nodes',
      );
    }
  });
  if (raw.accessories && Object.keys(raw.accessories).length > 0) {
    at(
      ['accessories'],
      'accessories are not supported with backend: swarm yet',
      'run them with the hosts backend (a separate boxship.yml), or as swarm services of your own',
    );
  }
  if (raw.roles && Object.keys(raw.roles).length > 0) {
    at(
      ['roles'],
      'roles are not supported with backend: swarm yet: each would be a swarm service of its own, with its own health and rollback',
      'remove roles: and run the workers as swarm services of your own, or use the per-host backend (remove backend: swarm)',
    );
  }
  for (const hook of ['pre_rollout', 'post_rollout'] as const) {
    if (raw.hooks?.[hook] !== undefined)
      at(['hooks', hook], `the ${hook} hook is not supported with backend: swarm yet`, 'run it yourself around boxship rollout, or remove it');
  }
  return { manager, replicas: s.replicas ?? hosts.length, constraints: s.constraints.map((c) => c.replace(/\s+/g, '')) };
}
