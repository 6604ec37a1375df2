/**
 * Looking up a role of boxship.yml by the name a command was given (`logs --role`, `exec --role`), and the hosts it
 * runs on: one place, so every command refuses an unknown role, or a host it does not run on, in the same words.
 */
import { InputError } from '../util/errors.js';
import type { Config, HostConfig, RoleConfig } from './types.js';

export function findRole(config: Config, name: string): RoleConfig {
  const all = config.roles ?? [];
  const found = all.find((r) => r.name === name);
  if (found) return found;
  throw new InputError(`no role ${JSON.stringify(name)} in ${config.file}`, {
    hint:
      name === 'web'
        ? 'web is the app itself: leave out --role'
        : all.length
          ? `roles are: ${all.map((r) => r.name).join(', ')} (web: leave out --role)`
          : 'add one under roles: (see README "Roles")',
  });
}

/** `picked` (from --host), or every host of the role; a picked host the role does not run on is refused. */
export function roleHosts(config: Config, role: RoleConfig, picked?: HostConfig[]): HostConfig[] {
  const hosts = picked ?? config.hosts.filter((h) => role.hosts.includes(h.name));
  const elsewhere = hosts.filter((h) => !role.hosts.includes(h.name));
  if (elsewhere.length)
    throw new InputError(`role ${role.name} does not run on ${elsewhere.map((h) => h.name).join(', ')}`, { hint: `it runs on: ${role.hosts.join(', ')}` });
  return hosts;
}
