/**
 * `roles:` -> RoleConfig[]: the checks that look across sections (hosts that must be in hosts:, container names an
 * accessory already takes) and what this slice of roles cannot do yet (a second proxied role), refused at the key.
 */
import type { RawConfig } from '../schema.js';
import type { HostConfig, RoleConfig } from '../types.js';
import { type At, commandWords, pickHosts } from './common.js';

/** Seconds a role's new container must keep running to count as healthy when boxship.yml says nothing else. */
const DEFAULT_RUNNING_SECONDS = 5;

export function toRoles(raw: NonNullable<RawConfig['roles']>, service: string, hosts: HostConfig[], accessories: string[], at: At): RoleConfig[] {
  return Object.entries(raw).map(([name, r]): RoleConfig => {
    if (r.proxy)
      at(
        ['roles', name, 'proxy'],
        `role ${name} asks for proxy traffic: only web (the app itself) is served through the proxy yet`,
        'remove proxy: true (the role then serves no HTTP), or make it the app (app:, healthcheck:) in a boxship.yml of its own',
      );
    // <service>-<role>-<slot> is the container; an accessory <service>-<role>-<n> would take its name.
    const clash = accessories.find((a) => new RegExp(`^${name}-[0-9]+$`).test(a));
    if (clash)
      at(
        ['roles', name],
        `the containers of role ${name} (${service}-${name}-1, ...) would take the name of accessory ${clash} (${service}-${clash})`,
        'rename the role or the accessory',
      );
    const onHosts = r.hosts === undefined ? hosts.map((h) => h.name) : pickHosts(hosts, r.hosts, (i) => ['roles', name, 'hosts', i], at);
    const h = r.healthcheck;
    return {
      name,
      cmd: commandWords(r.cmd),
      hosts: onHosts,
      instances: r.instances,
      env: r.env,
      health: h?.cmd !== undefined ? { kind: 'cmd', cmd: commandWords(h.cmd) } : { kind: 'running', seconds: h?.running_seconds ?? DEFAULT_RUNNING_SECONDS },
      ...(r.stop_signal !== undefined ? { stopSignal: r.stop_signal } : {}),
    };
  });
}
