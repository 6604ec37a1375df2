/**
 * What every part of the conversion (convert.ts and the section converters beside this file) shares: how a path in
 * boxship.yml is resolved, what is on disk there, and the one way a problem is recorded.
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { type Address, parseAddress } from '../address.js';
import { findHost } from '../host-lookup.js';
import type { PathSegment } from '../problems.js';
import type { HostConfig } from '../types.js';

/** Records a problem at a position in boxship.yml, like a schema error. */
export type At = (p: PathSegment[], message: string, hint?: string) => void;

export const PATH_HINT = 'relative paths are resolved against the folder of boxship.yml; ~/ is your home folder';

/** `~/x` -> home/x; relative -> against dir. Users copy paths from their shell, where ~ works. */
export function resolvePath(p: string, dir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return path.join(homedir(), p.slice(2));
  return path.resolve(dir, p);
}

export function kind(p: string): 'file' | 'dir' | undefined {
  try {
    const stat = statSync(p);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : undefined;
  } catch {
    return undefined;
  }
}

/** `rel` is `..`, below `..`, or absolute: a path that left the folder it was taken relative to. */
export function isOutside(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
}

// Every address was checked by the schema; a failure here is a bug in boxship, not in the config.
export function validAddress(text: string): Address {
  const result = parseAddress(text);
  if (!result.ok) throw new Error(`unvalidated address ${JSON.stringify(text)}: ${result.message}`);
  return result.value;
}

/** The absolute path of a file boxship.yml names; a problem at `p` when it is missing or a folder. */
export function requireFile(at: At, dir: string, p: PathSegment[], value: string, hint: string): string {
  const abs = resolvePath(value, dir);
  const found = kind(abs);
  if (found !== 'file') at(p, found === 'dir' ? `${abs} is a folder, expected a file` : `file not found: ${abs}`, hint);
  return abs;
}

/** A command as written in boxship.yml -> its argv: a string is split at spaces (the schema refused quotes in it). */
export function commandWords(written: string | string[]): string[] {
  return typeof written === 'string' ? written.split(/\s+/).filter(Boolean) : written;
}

/**
 * The hosts a section names (an accessory's, a role's), each as written in hosts: or by its host name: their names in
 * the order of hosts:, whatever the order written; an unknown or repeated one is a problem at `where(i)`.
 */
export function pickHosts(hosts: HostConfig[], written: string[], where: (i: number) => PathSegment[], at: At): string[] {
  const picked = new Set<string>();
  written.forEach((text, i) => {
    const h = findHost(hosts, text);
    if (!h) return at(where(i), `${JSON.stringify(text)} is not one of hosts:`, `name a host as written in hosts: (${hosts.map((x) => x.name).join(', ')})`);
    if (picked.has(h.name)) return at(where(i), `${JSON.stringify(text)} is listed twice (${h.name})`, 'list each host once');
    picked.add(h.name);
  });
  return hosts.filter((h) => picked.has(h.name)).map((h) => h.name);
}
