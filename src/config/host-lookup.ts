/**
 * Finding one of the configured hosts by what a person wrote for it: `--host` on the command line, an accessory's
 * host(s), swarm.manager. One function, so that every place accepts the same names with the same case rule:
 * - a host's name (as written in hosts:) compares exactly, as written;
 * - otherwise the text is read as `[user@]host[:port]`: its host name compares case-insensitively (as DNS does)
 *   with the host name as written in hosts: or as resolved through the ssh config, and a user or port, when
 *   written, must be the one boxship connects with.
 * Several hosts on one server differ by port (the schema refuses duplicates), so a bare host name picks the first.
 */
import { parseAddress, writtenParts } from './address.js';
import type { HostConfig } from './types.js';

export function findHost(hosts: readonly HostConfig[], text: string): HostConfig | undefined {
  const exact = hosts.find((h) => h.name === text);
  if (exact) return exact;
  const wanted = parseAddress(text);
  // An IPv6 address without brackets is no address to parseAddress (its colons would be ports), but is a host name.
  if (!wanted.ok) return hosts.find((h) => sameHostname(h.hostname, text));
  const given = writtenParts(text);
  return hosts.find((h) => {
    const written = parseAddress(h.name);
    const named = sameHostname(h.hostname, wanted.value.hostname) || (written.ok && sameHostname(written.value.hostname, wanted.value.hostname));
    return named && (!given.port || wanted.value.port === h.port) && (!given.user || wanted.value.user === h.user);
  });
}

function sameHostname(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
