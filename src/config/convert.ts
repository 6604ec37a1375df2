/**
 * Validated raw config -> Config: camelCase, absolute paths, parsed addresses, durations in ms, per-host settings
 * merged over the ssh defaults. Also the checks the schema cannot do because they need the file system or look
 * across entries; they report positions through the same Locator, so they read like schema errors.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { errorMessage } from '../util/errors.js';
import { parseAddress, type Address } from './address.js';
import { parseDuration } from './duration.js';
import type { Locator, PathSegment, Problem } from './problems.js';
import type { RawConfig, RawHost } from './schema.js';
import { parseSecrets } from './secrets.js';
import type { Config, HostConfig } from './types.js';

const PATH_HINT = 'relative paths are resolved against the folder of boxship.yml; ~/ is your home folder';

/** `~/x` -> home/x; relative -> against dir. Users copy paths from their shell, where ~ works. */
export function resolvePath(p: string, dir: string): string {
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

  // hosts: per-host settings over the ssh defaults (the schema has checked each server is listed once).
  const hosts = raw.hosts.map((entry, i): HostConfig => {
    const host: Partial<Exclude<RawHost, string>> & { address: string } = typeof entry === 'string' ? { address: entry } : entry;
    const { user, hostname, port } = address(host.address);
    const identityFile =
      host.identity_file !== undefined ? requireFile(['hosts', i, 'identity_file'], host.identity_file, identityHint) : sshIdentity;
    const knownHosts = resolvePath(host.known_hosts ?? raw.ssh.known_hosts, dir);
    const jumpText = host.jump ?? raw.ssh.jump;
    const instances = host.instances ?? raw.instances;
    return {
      name: host.address,
      user,
      hostname,
      port,
      ...(identityFile !== undefined ? { identityFile } : {}),
      knownHosts,
      ...(jumpText !== undefined ? { jump: { ...address(jumpText), name: jumpText } } : {}),
      instances,
    };
  });

  // secrets: the file must exist and parse; its problems carry its own name and line numbers.
  let secretsFile: string | undefined;
  if (raw.app.secrets_file !== undefined) {
    secretsFile = requireFile(['app', 'secrets_file'], raw.app.secrets_file, `create it with KEY=VALUE lines, or fix the path (${PATH_HINT})`);
    if (kind(secretsFile) === 'file') {
      const shown = /^~(\/|$)/.test(raw.app.secrets_file) || path.isAbsolute(raw.app.secrets_file)
        ? secretsFile
        : path.join(path.dirname(ctx.displayFile), raw.app.secrets_file);
      try {
        problems.push(...parseSecrets(readFileSync(secretsFile, 'utf8'), shown).problems);
      } catch (err) {
        at(['app', 'secrets_file'], `cannot read ${secretsFile}: ${errorMessage(err)}`, 'check its permissions');
      }
    }
  }

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
      return at(where, `${entry} is the secrets file (app.secrets_file): it must never be part of an image`, 'remove it from build.include; the app gets its values as environment variables at run time');
    }
    const found = kind(abs);
    if (found !== 'file') {
      return at(where, found === 'dir' ? `${abs} is a folder, expected a file` : `file not found: ${abs}`, 'name each file on its own, relative to build.context');
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
      volumes: Object.entries(raw.app.volumes).map(([name, mount]) =>
        typeof mount === 'string' ? { name, path: mount, readOnly: false } : { name, path: mount.path, readOnly: mount.mode === 'ro' },
      ),
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
  };
  if (raw.hooks) {
    const argv = (c: string | string[] | undefined) => (c === undefined ? undefined : typeof c === 'string' ? ['sh', '-c', c] : c);
    const hooks = { preRelease: argv(raw.hooks.pre_release), preRollout: argv(raw.hooks.pre_rollout), postRollout: argv(raw.hooks.post_rollout) };
    config.hooks = Object.fromEntries(Object.entries(hooks).filter(([, v]) => v !== undefined));
  }
  return { config, problems };
}
