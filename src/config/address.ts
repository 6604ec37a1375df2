/**
 * SSH addresses as users write them: `[user@]host[:port]`, IPv6 in brackets (`root@[::1]:2201`).
 * The schema validates with this and the converter parses with it, so both agree on one grammar.
 */
import { isIP, isIPv6 } from 'node:net';

export interface Address {
  user: string;
  hostname: string;
  port: number;
}

/** Which part of an address is wrong, so an error can be reported as e.g. `hosts[1].port`. */
type AddressPart = 'user' | 'hostname' | 'port';

export type AddressResult = { ok: true; value: Address } | { ok: false; part?: AddressPart; message: string };

export const DEFAULT_USER = 'root';
export const DEFAULT_SSH_PORT = 22;
export const ADDRESS_FORMAT = '[user@]host[:port]';
export const ADDRESS_HINT =
  'write the host as [user@]host[:port], e.g. deploy@10.0.0.7:2222, db.example.com or root@[::1]:22; ' +
  `the user defaults to ${DEFAULT_USER} and the port to ${DEFAULT_SSH_PORT}`;

/** A loose pattern for the JSON Schema (editors); parseAddress is the real check with precise messages. */
export const ADDRESS_PATTERN = '^([^@\\s]+@)?(\\[[0-9A-Fa-f:.]+\\]|[^@:\\s\\[\\]]+)(:[0-9]+)?$';

// POSIX-portable user names plus the uppercase letters some systems allow.
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

const quote = (s: string) => JSON.stringify(s);

export function parseAddress(text: string): AddressResult {
  const at = text.lastIndexOf('@');
  const user = at === -1 ? DEFAULT_USER : text.slice(0, at);
  const rest = at === -1 ? text : text.slice(at + 1);
  if (text.trim() === '') return { ok: false, message: `expected ${ADDRESS_FORMAT}, got an empty string` };
  if (!USER_RE.test(user)) {
    return { ok: false, part: 'user', message: `expected a user name (letters, digits, _ . -), got ${quote(user)}` };
  }

  let hostname: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    // Bracketed IPv6: the brackets are what separate the address's colons from the port's.
    const close = rest.indexOf(']');
    if (close === -1) return { ok: false, part: 'hostname', message: `expected "]" after the IPv6 address, got ${quote(rest)}` };
    hostname = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) {
      return { ok: false, part: 'port', message: `expected ":<port>" after "]", got ${quote(after)}` };
    }
    portText = after === '' ? undefined : after.slice(1);
    if (!isIPv6(hostname)) return { ok: false, part: 'hostname', message: `expected an IPv6 address in brackets, got ${quote(hostname)}` };
  } else {
    const colons = rest.split(':').length - 1;
    if (colons > 1) {
      return { ok: false, part: 'hostname', message: `expected an IPv6 address in brackets, e.g. [${rest}], got ${quote(rest)}` };
    }
    const colon = rest.indexOf(':');
    hostname = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
    if (!(isIP(hostname) === 4 || HOSTNAME_RE.test(hostname))) {
      return { ok: false, part: 'hostname', message: `expected a host name or IP address, got ${quote(hostname)}` };
    }
  }

  let port = DEFAULT_SSH_PORT;
  if (portText !== undefined) {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      return { ok: false, part: 'port', message: `expected a number from 1 to 65535, got ${quote(portText)}` };
    }
  }
  return { ok: true, value: { user, hostname, port } };
}

/** Which parts of `[user@]host[:port]` were written (the rest is a default, or comes from the ssh config). */
export function writtenParts(text: string): { user: boolean; port: boolean } {
  const rest = text.slice(text.lastIndexOf('@') + 1);
  return { user: text.includes('@'), port: rest.startsWith('[') ? rest.includes(']:') : rest.includes(':') };
}
