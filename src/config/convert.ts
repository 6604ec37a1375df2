/**
 * Validated raw config -> Config: camelCase, absolute paths, parsed addresses, durations in ms, per-host settings
 * merged over the ssh defaults. Also the checks the schema cannot do because they need the file system or look
 * across entries; they report positions through the same Locator, so they read like schema errors.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { errorMessage } from '../util/errors.js';
import { DEFAULT_SSH_PORT, DEFAULT_USER, parseAddress, type Address } from './address.js';
import { parseDuration } from './duration.js';
import type { Locator, PathSegment, Problem } from './problems.js';
import type { RawConfig, RawHost } from './schema.js';
import { parseSecrets } from './secrets.js';
import { expandTokens, parseSshConfig, settingsFor, type SshConfigFile } from './ssh-config.js';
import type { AccessoryConfig, Config, HostConfig, SwarmConfig, VolumeConfig } from './types.js';

const PATH_HINT = 'relative paths are resolved against the folder of boxship.yml; ~/ is your home folder';

/** `~/x` -> home/x; relative -> against dir. Users copy paths from their shell, where ~ works. */
function resolvePath(p: string, dir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return path.join(homedir(), p.slice(2));
  return path.resolve(dir, p);
}

function kind(p: string): 'file' | 'dir' | undefined {
  try {
    const stat = statSync(p);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : undefined;
  } catch {
    return undefined;
  }
}

// Every address was checked by the schema; a failure here is a bug in boxship, not in the config.
function address(text: string): Address {
  const result = parseAddress(text);
  if (!result.ok) throw new Error(`unvalidated address ${JSON.stringify(text)}: ${result.message}`);
  return result.value;
}

export interface ConvertContext {
  /** Absolute path of boxship.yml. */
  file: string;
  /** The name boxship.yml was given by (for messages about files next to it). */
  displayFile: string;
  loc: Locator;
}

export function toConfig(raw: RawConfig, ctx: ConvertContext): { config: Config; problems: Problem[] } {
  const dir = path.dirname(ctx.file);
  const problems: Problem[] = [];
  const at = (p: PathSegment[], message: string, hint?: string) => problems.push(ctx.loc.problem(p, message, hint));

  const requireFile = (p: PathSegment[], value: string, hint: string): string => {
    const abs = resolvePath(value, dir);
    const found = kind(abs);
    if (found !== 'file') at(p, found === 'dir' ? `${abs} is a folder, expected a file` : `file not found: ${abs}`, hint);
    return abs;
  };

  // build: the context must be a folder and the Dockerfile a file inside it (the context is what docker build sees).
  const context = resolvePath(raw.build.context, dir);
  const dockerfile = path.resolve(context, raw.build.dockerfile);
  if (kind(context) !== 'dir') {
    at(['build', 'context'], `folder not found: ${context}`, `set build.context to the folder docker build runs in; ${PATH_HINT}`);
  } else {
    const inside = path.relative(context, dockerfile);
    // When build.dockerfile is not written, the Locator points at the nearest thing that is (build, or the top).
    const where = ['build', 'dockerfile'];
    if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
      at(where, `${dockerfile} is outside the build context ${context}`, 'build.dockerfile is relative to build.context and must stay inside it');
    } else if (kind(dockerfile) !== 'file') {
      at(where, `Dockerfile not found: ${dockerfile}`, 'set build.dockerfile to its path relative to build.context (default "Dockerfile")');
    }
  }

  const identityHint = `check the path (${PATH_HINT}), or remove identity_file to use the keys in ssh-agent`;
  const sshIdentity = raw.ssh.identity_file === undefined ? undefined : requireFile(['ssh', 'identity_file'], raw.ssh.identity_file, identityHint);

  // The OpenSSH client config: ssh.config_file, else ~/.ssh/config when it exists; "none" reads none.
  const ssh = readSshConfig(raw.ssh.config_file, dir, at);
  const reported = new Set<string>();
  const sshAt = (line: number, message: string, hint: string) => {
    // A jump host shared by several hosts would report the same line once per host.
    if (reported.has(`${line}\0${message}`)) return;
    reported.add(`${line}\0${message}`);
    problems.push({ file: ssh!.file, line, column: 1, path: '', message, hint });
  };

  // hosts: per-host settings over the ssh defaults over the ssh config (the schema has checked each server is listed once).
  const hosts = raw.hosts.map((entry, i): HostConfig => {
    const host: Partial<Exclude<RawHost, string>> & { address: string } = typeof entry === 'string' ? { address: entry } : entry;
    const written = address(host.address);
    const given = writtenParts(host.address);
    const alias = ssh ? resolveAlias(ssh, written.hostname, sshAt) : {};
    const user = given.user ? written.user : (alias.user ?? DEFAULT_USER);
    const port = given.port ? written.port : (alias.port ?? DEFAULT_SSH_PORT);
    const hostname = alias.hostname ?? written.hostname;
    let identityFile = host.identity_file !== undefined ? requireFile(['hosts', i, 'identity_file'], host.identity_file, identityHint) : sshIdentity;
    if (identityFile === undefined && ssh && alias.identityFiles && alias.identityFiles.length > 0) {
      identityFile = identityFromSshConfig(ssh, alias.identityFiles, { host: hostname, user, port }, written.hostname, sshAt);
    }
    const knownHosts = resolvePath(host.known_hosts ?? raw.ssh.known_hosts, dir);
    const jumpText = host.jump ?? raw.ssh.jump;
    let jump: HostConfig['jump'];
    if (jumpText !== undefined) {
      jump = { ...jumpAddress(jumpText, ssh, sshAt), name: jumpText };
    } else if (alias.proxyJump !== undefined && ssh) {
      jump = jumpFromSshConfig(ssh, alias.proxyJump, written.hostname, sshAt);
    }
    const instances = host.instances ?? raw.instances;
    const relay = host.relay_address !== undefined ? address(host.relay_address) : undefined;
    return {
      name: host.address,
      user,
      hostname,
      port,
      ...(identityFile !== undefined ? { identityFile } : {}),
      knownHosts,
      ...(jump !== undefined ? { jump } : {}),
      instances,
      ...(relay
        ? {
            relayAddress: {
              user: writtenParts(host.relay_address!).user ? relay.user : user,
              hostname: relay.hostname,
              port: writtenParts(host.relay_address!).port ? relay.port : port,
            },
          }
        : {}),
    };
  });
  // Two aliases (or an alias and an address) for one server would make two hosts of one.
  const seen = new Map<string, number>();
  hosts.forEach((h, i) => {
    const server = `${h.hostname.toLowerCase()}:${h.port}`;
    const first = seen.get(server);
    if (first === undefined) return void seen.set(server, i);
    const w = (x: HostConfig) => {
      const a = address(x.name);
      return `${a.hostname.toLowerCase()}:${a.port}`;
    };
    // The schema already reported entries that are the same as written.
    if (w(hosts[first]!) !== w(h)) {
      at(
        ['hosts', i],
        `duplicate host: ${JSON.stringify(h.name)} is the same server (${h.hostname}:${h.port}, through ${ssh?.file ?? 'the ssh config'}) as hosts[${first}] ${JSON.stringify(hosts[first]!.name)}`,
        'list each server once',
      );
    }
  });

  // secrets: the file must exist and parse; its problems carry its own name and line numbers.
  const checkSecrets = (where: PathSegment[], written: string): string => {
    const abs = requireFile(where, written, `create it with KEY=VALUE lines, or fix the path (${PATH_HINT})`);
    if (kind(abs) === 'file') {
      const shown = /^~(\/|$)/.test(written) || path.isAbsolute(written) ? abs : path.join(path.dirname(ctx.displayFile), written);
      try {
        problems.push(...parseSecrets(readFileSync(abs, 'utf8'), shown).problems);
      } catch (err) {
        at(where, `cannot read ${abs}: ${errorMessage(err)}`, 'check its permissions');
      }
    }
    return abs;
  };
  const secretsFile = raw.app.secrets_file === undefined ? undefined : checkSecrets(['app', 'secrets_file'], raw.app.secrets_file);
  const accessories = raw.accessories === undefined ? undefined : toAccessories(raw.accessories, raw.service, hosts, checkSecrets, at);
  const accessorySecrets = new Map((accessories ?? []).flatMap((a) => (a.secretsFile ? [[a.secretsFile, a.name] as const] : [])));

  // build.include: files from outside git, each inside the context; never the secrets file (it would be baked
  // into a layer that every host, and anyone who can pull the image, can read).
  const include: string[] = [];
  raw.build.include.forEach((entry, i) => {
    const where = ['build', 'include', i];
    const abs = path.resolve(context, entry);
    const rel = path.relative(context, abs);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      return at(where, `${entry} is outside the build context ${context}`, 'build.include names files inside build.context, relative to it');
    }
    if (secretsFile !== undefined && abs === secretsFile) {
      return at(
        where,
        `${entry} is the secrets file (app.secrets_file): it must never be part of an image`,
        'remove it from build.include; the app gets its values as environment variables at run time',
      );
    }
    if (accessorySecrets.has(abs)) {
      return at(
        where,
        `${entry} is the secrets file of accessory ${accessorySecrets.get(abs)}: it must never be part of an image`,
        'remove it from build.include; the accessory gets its values as environment variables at run time',
      );
    }
    const found = kind(abs);
    if (found !== 'file') {
      return at(
        where,
        found === 'dir' ? `${abs} is a folder, expected a file` : `file not found: ${abs}`,
        'name each file on its own, relative to build.context',
      );
    }
    include.push(rel.split(path.sep).join('/'));
  });

  const config: Config = {
    file: ctx.file,
    dir,
    service: raw.service,
    build: {
      context,
      dockerfile,
      ...(raw.build.target !== undefined ? { target: raw.build.target } : {}),
      ...(raw.build.platform !== undefined ? { platform: raw.build.platform } : {}),
      args: raw.build.args,
      include,
      pins: raw.build.pins,
    },
    hosts,
    app: {
      port: raw.app.port,
      env: raw.app.env,
      ...(secretsFile !== undefined ? { secretsFile } : {}),
      volumes: toVolumes(raw.app.volumes),
      ...(raw.app.config_file ? { configFile: { env: raw.app.config_file.env, path: raw.app.config_file.path } } : {}),
      drainSeconds: raw.app.drain_seconds,
      stopTimeoutSeconds: raw.app.stop_timeout_seconds,
    },
    healthcheck: {
      path: raw.healthcheck.path,
      port: raw.healthcheck.port ?? raw.app.port,
      intervalMs: parseDuration(raw.healthcheck.interval)!,
      timeoutMs: parseDuration(raw.healthcheck.timeout)!,
      retries: raw.healthcheck.retries,
    },
    proxy: {
      image: raw.proxy.image,
      port: raw.proxy.port,
      bind: raw.proxy.bind,
      retryAfterSeconds: raw.proxy.retry_after,
      backoffHeader: raw.proxy.backoff_header,
    },
    releases: { keep: raw.releases.keep },
    ship: { compression: raw.ship.compression, relay: raw.ship.relay, relayAgent: raw.ship.relay_agent },
  };
  if (raw.hooks) {
    const argv = (c: string | string[] | undefined) => (c === undefined ? undefined : typeof c === 'string' ? ['sh', '-c', c] : c);
    const hooks = { preRelease: argv(raw.hooks.pre_release), preRollout: argv(raw.hooks.pre_rollout), postRollout: argv(raw.hooks.post_rollout) };
    config.hooks = Object.fromEntries(Object.entries(hooks).filter(([, v]) => v !== undefined));
  }
  if (accessories && accessories.length > 0) config.accessories = accessories;
  const swarm = swarmConfig(raw, hosts, at);
  if (swarm) config.swarm = swarm;
  return { config, problems };
}

function toVolumes(volumes: RawConfig['app']['volumes']): VolumeConfig[] {
  return Object.entries(volumes).map(([name, mount]) =>
    typeof mount === 'string' ? { name, path: mount, readOnly: false } : { name, path: mount.path, readOnly: mount.mode === 'ro' },
  );
}

/** Names the instances and the proxy use on the service network; an accessory named so would take one of them. */
const RESERVED_ACCESSORY_NAMES = new Set(['proxy']);

/** A host named in accessories.<name>.host(s): as written in hosts:, by its host name, or as host:port. */
function findHost(hosts: HostConfig[], text: string): HostConfig | undefined {
  return (
    hosts.find((h) => h.name === text) ??
    hosts.find((h) => {
      const written = address(h.name);
      return [h.hostname, `${h.hostname}:${h.port}`, written.hostname, `${written.hostname}:${written.port}`].some(
        (n) => n.toLowerCase() === text.toLowerCase(),
      );
    })
  );
}

function toAccessories(
  raw: NonNullable<RawConfig['accessories']>,
  service: string,
  hosts: HostConfig[],
  checkSecrets: (where: PathSegment[], written: string) => string,
  at: (p: PathSegment[], message: string, hint?: string) => void,
): AccessoryConfig[] {
  return Object.entries(raw).map(([name, a]): AccessoryConfig => {
    if (RESERVED_ACCESSORY_NAMES.has(name)) {
      at(['accessories', name], `${name} is a name boxship uses itself (the container ${service}-${name} is the proxy)`, 'pick another name, e.g. db or cache');
    } else if (name.startsWith(`${service}-`)) {
      at(
        ['accessories', name],
        `${name} could take the name of one of the instances (${service}-1, ${service}-1-blue) on the service network`,
        `pick a name that does not start with ${service}-`,
      );
    }
    const written = a.hosts ?? (a.host !== undefined ? [a.host] : []);
    const picked = new Set<string>();
    written.forEach((text, i) => {
      const h = findHost(hosts, text);
      const where = a.hosts ? ['accessories', name, 'hosts', i] : ['accessories', name, 'host'];
      if (!h) return at(where, `${JSON.stringify(text)} is not one of hosts:`, `name a host as written in hosts: (${hosts.map((x) => x.name).join(', ')})`);
      if (picked.has(h.name)) return at(where, `${JSON.stringify(text)} is listed twice (${h.name})`, 'list each host once');
      picked.add(h.name);
    });
    const onHosts = written.length === 0 ? [hosts[0]!.name] : hosts.filter((h) => picked.has(h.name)).map((h) => h.name);
    return {
      name,
      image: a.image,
      hosts: onHosts,
      ...(a.port !== undefined ? { port: a.port } : {}),
      ...(a.publish !== undefined ? { publish: a.publish } : {}),
      env: a.env,
      ...(a.secrets_file !== undefined ? { secretsFile: checkSecrets(['accessories', name, 'secrets_file'], a.secrets_file) } : {}),
      volumes: toVolumes(a.volumes),
      ...(a.cmd !== undefined ? { cmd: typeof a.cmd === 'string' ? a.cmd.split(/\s+/).filter(Boolean) : a.cmd } : {}),
      stopTimeoutSeconds: a.stop_timeout_seconds,
    };
  });
}

/**
 * `backend: swarm`: the manager must be one of the hosts, and what only the per-host backend reads (per-host
 * instances, the rollout hooks) is refused rather than silently ignored.
 */
function swarmConfig(raw: RawConfig, hosts: HostConfig[], at: (p: PathSegment[], message: string, hint?: string) => void): SwarmConfig | undefined {
  if (raw.backend !== 'swarm') {
    if (raw.swarm)
      at(['swarm'], 'swarm: is only read with backend: swarm', 'add backend: swarm (the hosts are the nodes of a Docker Swarm), or remove the swarm: section');
    return undefined;
  }
  const s = raw.swarm ?? { constraints: [] };
  let manager = hosts[0]!.name;
  if (s.manager !== undefined) {
    const wanted = parseAddress(s.manager);
    const found = hosts.find((h) => {
      if (h.name === s.manager) return true;
      const a = parseAddress(h.name);
      return wanted.ok && a.ok && a.value.hostname.toLowerCase() === wanted.value.hostname.toLowerCase() && a.value.port === wanted.value.port;
    });
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
  for (const hook of ['pre_rollout', 'post_rollout'] as const) {
    if (raw.hooks?.[hook] !== undefined)
      at(['hooks', hook], `the ${hook} hook is not supported with backend: swarm yet`, 'run it yourself around boxship rollout, or remove it');
  }
  return { manager, replicas: s.replicas ?? hosts.length, constraints: s.constraints.map((c) => c.replace(/\s+/g, '')) };
}

/** Which parts of `[user@]host[:port]` were written (the rest may come from the ssh config). */
function writtenParts(text: string): { user: boolean; port: boolean } {
  const rest = text.slice(text.lastIndexOf('@') + 1);
  return { user: text.includes('@'), port: rest.startsWith('[') ? rest.includes(']:') : rest.includes(':') };
}

type SshProblem = (line: number, message: string, hint: string) => void;

const SSH_HINT = 'fix that line of the ssh config, or write the value in boxship.yml (it takes precedence)';

/** Reads the ssh config; a problem with the file itself is reported at ssh.config_file. */
function readSshConfig(configured: string | undefined, dir: string, at: (p: PathSegment[], message: string, hint?: string) => void): SshConfigFile | undefined {
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
function resolveAlias(ssh: SshConfigFile, name: string, problem: SshProblem): Alias {
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
function identityFromSshConfig(
  ssh: SshConfigFile,
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
function jumpAddress(text: string, ssh: SshConfigFile | undefined, problem: SshProblem): Address {
  const written = address(text);
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
function jumpFromSshConfig(ssh: SshConfigFile, v: { value: string; line: number }, name: string, problem: SshProblem): HostConfig['jump'] {
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
