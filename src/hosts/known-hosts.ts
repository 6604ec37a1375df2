/**
 * Host key checking against an OpenSSH known_hosts file. ssh2 hands us the raw key blob and leaves the policy to us;
 * the policy is OpenSSH's: a known matching key passes, a different key of the same type is an alarm, a host with no
 * entry is unknown and needs the user's explicit acceptance.
 */
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostLine {
  line: number;
  patterns: string[];
  keyType: string;
  key: string; // base64 blob
  marker?: string; // @revoked / @cert-authority
}

export type HostKeyVerdict =
  | { status: 'match'; line: number }
  | { status: 'unknown' }
  | { status: 'changed'; line: number; knownFingerprint: string }
  | { status: 'revoked'; line: number };

/** The name OpenSSH writes for a host: plain for port 22, `[host]:port` otherwise. */
export function knownHostName(hostname: string, port: number): string {
  return port === 22 ? hostname : `[${hostname}]:${port}`;
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
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** Whether one known_hosts pattern (plain, wildcard, negated or `|1|salt|hash` hashed) names this host. */
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
  return 'SHA256:' + createHash('sha256').update(buf).digest('base64').replace(/=+$/, '');
}

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
  return { status: 'unknown' };
}

/** Key types known for a host, so ssh2 can ask the server for a key we can actually check. */
export function knownKeyTypes(entries: KnownHostLine[], hostname: string, port: number): string[] {
  const name = knownHostName(hostname, port);
  return [...new Set(entries.filter((e) => !e.marker && lineMatches(e, name)).map((e) => e.keyType))];
}

export function knownHostsLine(hostname: string, port: number, blob: Buffer): string {
  return `${knownHostName(hostname, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}`;
}
