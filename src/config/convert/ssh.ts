/**
 * The OpenSSH client config as boxship reads it for a host: the file itself, then HostName, User, Port,
 * IdentityFile and ProxyJump for one name, each value checked. Separate from hosts.ts because it is about the
 * ssh config's own grammar and tokens; its problems point at that file's lines, not at boxship.yml.
 */
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { errorMessage } from '../../util/errors.js';
import { type Address, DEFAULT_SSH_PORT, DEFAULT_USER, parseAddress, writtenParts } from '../address.js';
import { expandTokens, parseSshConfig, type SshConfigFile, settingsFor } from '../ssh-config.js';
import type { HostConfig } from '../types.js';
import { type At, kind, PATH_HINT, resolvePath, validAddress } from './common.js';

/** Records a problem at a line of the ssh config. */
export type SshProblem = (line: number, message: string, hint: string) => void;

const SSH_HINT = 'fix that line of the ssh config, or write the value in boxship.yml (it takes precedence)';

/** Reads the ssh config; a problem with the file itself is reported at ssh.config_file. */
export function readSshConfig(configured: string | undefined, dir: string, at: At): SshConfigFile | undefined {
  if (configured === 'none') return undefined;
  const file = configured === undefined ? path.join(homedir(), '.ssh', 'config') : resolvePath(configured, dir);
  let text: string;
  try {
    if (configured === undefined && kind(file) === undefined) return undefined;
    if (kind(file) === 'dir') throw new Error('it is a folder, expected a file');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    at(
      ['ssh', 'config_file'],
      missing ? `file not found: ${file}` : `cannot read ${file}: ${errorMessage(err)}`,
      `check the path (${PATH_HINT}), or set ssh.config_file: none to read no ssh config`,
    );
    return undefined;
  }
  try {
    return parseSshConfig(text, file);
  } catch (err) {
    at(['ssh', 'config_file'], `cannot parse ${file}: ${errorMessage(err)}`, 'fix the file, or set ssh.config_file: none to read no ssh config');
    return undefined;
  }
}

interface Alias {
  hostname?: string;
  user?: string;
  port?: number;
  identityFiles?: { value: string; line: number }[];
  proxyJump?: { value: string; line: number };
}

/** HostName, User and Port the ssh config gives `name`, each checked; an unusable value is a problem at its line. */
export function resolveAlias(ssh: SshConfigFile, name: string, problem: SshProblem): Alias {
  const s = settingsFor(ssh, name);
  const out: Alias = { identityFiles: s.identityFiles };
  if (s.proxyJump) out.proxyJump = s.proxyJump;
  if (s.hostname) {
    const expanded = expandTokens(s.hostname.value, { h: name });
    const check = parseAddress(expanded.text.includes(':') ? `[${expanded.text}]` : expanded.text);
    if (expanded.unknown)
      problem(
        s.hostname.line,
        `HostName ${JSON.stringify(s.hostname.value)} (for ${name}): the token ${expanded.unknown} is not supported`,
        `only %h and %% are expanded in HostName; ${SSH_HINT}`,
      );
    else if (!check.ok || check.value.port !== DEFAULT_SSH_PORT || expanded.text.includes('@'))
      problem(s.hostname.line, `HostName ${JSON.stringify(s.hostname.value)} (for ${name}): expected a host name or IP address`, SSH_HINT);
    else out.hostname = check.value.hostname;
  }
  if (s.user) {
    const check = parseAddress(`${s.user.value}@x`);
    if (!check.ok) problem(s.user.line, `User ${JSON.stringify(s.user.value)} (for ${name}): ${check.message}`, SSH_HINT);
    else out.user = check.value.user;
  }
  if (s.port) {
    const port = /^[0-9]{1,5}$/.test(s.port.value) ? Number(s.port.value) : NaN;
    if (!(port >= 1 && port <= 65535)) problem(s.port.line, `Port ${JSON.stringify(s.port.value)} (for ${name}): expected a number from 1 to 65535`, SSH_HINT);
    else out.port = port;
  }
  return out;
}

/**
 * The key from IdentityFile lines: OpenSSH tries every one that exists; boxship connects with one key, the first
 * that exists. None existing is a problem at the first one's line.
 */
export function identityFromSshConfig(
  files: { value: string; line: number }[],
  target: { host: string; user: string; port: number },
  name: string,
  problem: SshProblem,
): string | undefined {
  const tokens = { d: homedir(), u: userInfo().username, h: target.host, r: target.user, p: String(target.port) };
  const candidates: string[] = [];
  for (const f of files) {
    const expanded = expandTokens(f.value, tokens);
    if (expanded.unknown) {
      problem(
        f.line,
        `IdentityFile ${JSON.stringify(f.value)} (for ${name}): the token ${expanded.unknown} is not supported`,
        `boxship expands %d %u %h %r %p %% and ~ in IdentityFile; ${SSH_HINT}`,
      );
      return undefined;
    }
    // Like OpenSSH: ~ is the home folder, a relative path is relative to the current folder.
    const p = expanded.text === '~' || expanded.text.startsWith('~/') ? path.join(homedir(), expanded.text.slice(1)) : path.resolve(expanded.text);
    if (kind(p) === 'file') return p;
    candidates.push(p);
  }
  problem(files[0]!.line, `IdentityFile (for ${name}): key not found: ${candidates.join(', ')}`, `create the key or fix the path; ${SSH_HINT}`);
  return undefined;
}

/** A jump host written in boxship.yml; its name may be an alias of the ssh config too (as with ssh -J). */
export function jumpAddress(text: string, ssh: SshConfigFile | undefined, problem: SshProblem): Address {
  const written = validAddress(text);
  if (!ssh) return written;
  const given = writtenParts(text);
  const alias = resolveAlias(ssh, written.hostname, problem);
  return {
    user: given.user ? written.user : (alias.user ?? DEFAULT_USER),
    hostname: alias.hostname ?? written.hostname,
    port: given.port ? written.port : (alias.port ?? DEFAULT_SSH_PORT),
  };
}

/** ProxyJump: one `[ssh://][user@]host[:port]` (itself resolved through the file), or none. */
export function jumpFromSshConfig(ssh: SshConfigFile, v: { value: string; line: number }, name: string, problem: SshProblem): HostConfig['jump'] {
  if (v.value.toLowerCase() === 'none') return undefined;
  if (v.value.includes(',')) {
    problem(
      v.line,
      `ProxyJump ${JSON.stringify(v.value)} (for ${name}): more than one jump host is not supported`,
      `boxship goes through one jump host; ${SSH_HINT}`,
    );
    return undefined;
  }
  const text = v.value.replace(/^ssh:\/\//i, '');
  const parsed = parseAddress(text);
  if (!parsed.ok) {
    problem(v.line, `ProxyJump ${JSON.stringify(v.value)} (for ${name}): ${parsed.message}`, `write it as [user@]host[:port]; ${SSH_HINT}`);
    return undefined;
  }
  return { ...jumpAddress(text, ssh, problem), name: v.value };
}
