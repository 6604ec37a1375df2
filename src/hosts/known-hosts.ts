/**
 * Host key checking against an OpenSSH known_hosts file. ssh2 hands us the raw key blob and leaves the policy to us;
 * the policy is OpenSSH's: a known matching key passes, a different key of the same type is an alarm, a host with no
 * entry is unknown and needs the user's explicit acceptance. A host known only by keys of other types is not
 * unknown: OpenSSH asks for the known types first (hostKeyAlgorithms), so a server that answers with another type has
 * dropped that key or is not the server; accepting it as new would let an impostor in.
 */
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostLine {
  line: number;
  patterns: string[];
  keyType: string;
  key: string; // base64 blob
  marker?: string; // @revoked / @cert-authority
}

/** Only 'unknown' may be recorded by --accept-new-host-keys: every other verdict concerns a host already known. */
export type HostKeyVerdict =
  | { status: 'match'; line: number }
  | { status: 'unknown' }
  | { status: 'changed'; line: number; knownFingerprint: string }
  | { status: 'revoked'; line: number }
  /** No key of the offered type is known for the host, but one of another type is (the first such line). */
  | { status: 'other-type'; line: number; knownType: string; knownFingerprint: string }
  /** The host is named only by @cert-authority lines: it is vouched for by certificates, which ssh2 cannot check. */
  | { status: 'cert-authority'; line: number };

/**
 * The name OpenSSH writes and looks up for a host: plain for port 22, `[host]:port` otherwise, lower-cased (ssh
 * lower-cases the host name before it touches known_hosts, so hashed entries hold the hash of the lower-cased name).
 */
export function knownHostName(hostname: string, port: number): string {
  const host = hostname.toLowerCase();
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]?.startsWith('@')) marker = fields.shift();
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) return;
    out.push({ line: i + 1, patterns: hosts.split(','), keyType, key, marker });
  });
  return out;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/**
 * Whether one known_hosts pattern (plain, wildcard, negated or `|1|salt|hash` hashed) names this host. `name` comes
 * from knownHostName, already lower-cased; plain patterns compare case-insensitively, as OpenSSH's match_pattern_list.
 */
function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  return globToRegExp(pattern).test(name);
}

function lineMatches(entry: KnownHostLine, name: string): boolean {
  let matched = false;
  for (const p of entry.patterns) {
    if (p.startsWith('!')) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) matched = true;
  }
  return matched;
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

export function fingerprint(blob: Buffer | string): string {
  const buf = typeof blob === 'string' ? Buffer.from(blob, 'base64') : blob;
  return `SHA256:${createHash('sha256').update(buf).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Checks the key blob ssh2 hands to hostVerifier. Its type is the key's own (`ssh-rsa` even when the signature
 * algorithm negotiated was rsa-sha2-512 or rsa-sha2-256), which is what known_hosts records.
 */
export function checkHostKey(entries: KnownHostLine[], hostname: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = knownHostName(hostname, port);
  const type = keyTypeOf(blob);
  const offered = blob.toString('base64');
  const forHost = entries.filter((e) => lineMatches(e, name));
  const revoked = forHost.find((e) => e.marker === '@revoked' && e.key === offered);
  if (revoked) return { status: 'revoked', line: revoked.line };
  const plain = forHost.filter((e) => e.marker === undefined);
  const match = plain.find((e) => e.keyType === type && e.key === offered);
  if (match) return { status: 'match', line: match.line };
  const sameType = plain.find((e) => e.keyType === type);
  if (sameType) return { status: 'changed', line: sameType.line, knownFingerprint: fingerprint(sameType.key) };
  const otherType = plain[0];
  if (otherType) return { status: 'other-type', line: otherType.line, knownType: otherType.keyType, knownFingerprint: fingerprint(otherType.key) };
  const ca = forHost.find((e) => e.marker === '@cert-authority');
  if (ca) return { status: 'cert-authority', line: ca.line };
  return { status: 'unknown' };
}

/** Key types known for a host, so ssh2 can ask the server for a key we can actually check. */
export function knownKeyTypes(entries: KnownHostLine[], hostname: string, port: number): string[] {
  const name = knownHostName(hostname, port);
  return [...new Set(entries.filter((e) => !e.marker && lineMatches(e, name)).map((e) => e.keyType))];
}

/**
 * The key type (as known_hosts names it) behind a host key algorithm: RFC 8332's rsa-sha2-512 and rsa-sha2-256 are
 * signatures made with an `ssh-rsa` key; every other algorithm ssh2 knows is named after its key type.
 */
export function keyTypeOfAlgorithm(algorithm: string): string {
  return algorithm === 'rsa-sha2-512' || algorithm === 'rsa-sha2-256' ? 'ssh-rsa' : algorithm;
}

/**
 * The host key algorithms to offer, as OpenSSH's order_hostkeyalgs does: those whose key type known_hosts holds for
 * the host first, then the rest, each group in the default order. An `ssh-rsa` entry thus puts rsa-sha2-512,
 * rsa-sha2-256 (and ssh-rsa last of the three) first, which is what an OpenSSH >= 8.8 server, refusing SHA-1
 * `ssh-rsa` signatures, will agree to; asking for `ssh-rsa` alone would make it pick another key we cannot check.
 */
export function hostKeyAlgorithms<T extends string>(defaults: readonly T[], knownTypes: readonly string[]): T[] {
  const known = (alg: T) => knownTypes.includes(keyTypeOfAlgorithm(alg));
  return [...defaults.filter(known), ...defaults.filter((alg) => !known(alg))];
}

/** The line --accept-new-host-keys appends, with the name lower-cased as ssh writes it. */
export function knownHostsLine(hostname: string, port: number, blob: Buffer): string {
  return `${knownHostName(hostname, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}`;
}
