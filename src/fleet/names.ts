/** Names of the things boxship creates on a host for a service. One place, so commands and status agree. */
import { proxyContainerName } from '../proxy/commands.js';
import type { Colour } from '../rollout/plan.js';

export const LABEL = {
  service: 'dev.boxship.service',
  tag: 'dev.boxship.tag',
  slot: 'dev.boxship.slot',
  colour: 'dev.boxship.colour',
  /** On an accessory's container (with the service label): the accessory's name. Instances have a slot instead. */
  accessory: 'dev.boxship.accessory',
  /** A hash of what an accessory was started with (image, command, env, volumes): `accessory up` recreates on a change. */
  accessorySpec: 'dev.boxship.accessory-spec',
  /**
   * On an instance: a hash of what it was started with beyond its release (the stop signal), absent when that is all
   * defaults. A rollout replaces an instance whose hash differs, as if it ran another release.
   */
  spec: 'dev.boxship.spec',
  /**
   * On an instance: the `<alias>:<address>` entries (comma-separated) it resolves the accessories of other hosts by;
   * a rollout replaces an instance whose entries are not what its host needs now (an accessory moved).
   */
  accessoryHosts: 'dev.boxship.accessory-hosts',
  /**
   * On a role's container (roles: in boxship.yml): the role's name. Its slot is `role-slot`, not `slot`: whatever
   * lists the web instances by their slot label (rollout, logs, converge) must not take a worker for one.
   */
  role: 'dev.boxship.role',
  roleSlot: 'dev.boxship.role-slot',
} as const;

export const names = {
  network: (service: string) => `boxship-${service}`,
  proxy: proxyContainerName,
  /** The live instance of a slot. */
  instance: (service: string, slot: number) => `${service}-${slot}`,
  /** An instance being started next to the live one, renamed to the live name once the old one is gone. */
  incoming: (service: string, slot: number) => `${service}-${slot}.next`,
  /**
   * An old instance that has handed its slot over and drains in the background. Named by its colour: within one
   * run a slot moves at most twice (forward and back), each time from another colour, so two drains never collide.
   */
  draining: (service: string, slot: number, colour: Colour) => `${service}-${slot}.old-${colour}`,
  /** The fixed upstream name the proxy dials for a slot's colour (a network alias). */
  alias: (service: string, slot: number, colour: Colour) => `${service}-${slot}-${colour}`,
  image: (service: string, tag: string) => `${service}:${tag}`,
  /** A container of a role beside web (never `web`, whose instances are `<service>-<slot>`). */
  role: (service: string, role: string, slot: number) => `${service}-${role}-${slot}`,
  /** An accessory's container; on the service network it is also reachable as `<name>` (a network alias). */
  accessory: (service: string, name: string) => `${service}-${name}`,
};

/** The release's git sha, as BOXSHIP_SHA gives it to the app: a tag may carry a -dirty-<hash> suffix. */
export function shaOfTag(tag: string): string {
  return tag.slice(0, 40);
}
