/**
 * Validated raw config -> Config: camelCase, absolute paths, parsed addresses, durations in ms, per-host settings
 * merged over the ssh defaults. Also the checks the schema cannot do because they need the file system or look
 * across entries; they report positions through the same Locator, so they read like schema errors. The sections
 * with checks of their own are converted in convert/ (hosts and the ssh config, build, accessories, roles, swarm); this
 * file puts them together, with the secrets files they share.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../util/errors.js';
import { toAccessories, toVolumes } from './convert/accessories.js';
import { buildPaths, includedFiles } from './convert/build.js';
import { type At, kind, PATH_HINT, requireFile } from './convert/common.js';
import { toHosts } from './convert/hosts.js';
import { toRoles } from './convert/roles.js';
import { toSite } from './convert/site.js';
import { swarmConfig } from './convert/swarm.js';
import { parseDuration } from './duration.js';
import type { Locator, PathSegment, Problem } from './problems.js';
import type { RawConfig } from './schema.js';
import { parseSecrets } from './secrets.js';
import type { Config } from './types.js';

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
  const at: At = (p, message, hint) => problems.push(ctx.loc.problem(p, message, hint));

  // build: the context must be a folder and the Dockerfile a file inside it (the context is what docker build sees).
  const { context, dockerfile } = buildPaths(raw.build, dir, at);
  const hosts = toHosts(raw, dir, at, (problem) => problems.push(problem));

  // secrets: the file must exist and parse; its problems carry its own name and line numbers.
  const checkSecrets = (where: PathSegment[], written: string): string => {
    const abs = requireFile(at, dir, where, written, `create it with KEY=VALUE lines, or fix the path (${PATH_HINT})`);
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
  const include = includedFiles(raw.build.include, context, { ...(secretsFile !== undefined ? { app: secretsFile } : {}), accessories: accessorySecrets }, at);

  const site = toSite(raw.proxy, dir, at);
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
      ...(raw.app.stop_signal !== undefined ? { stopSignal: raw.app.stop_signal } : {}),
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
      // Without hosts the proxy port is how the service is reached, so it has its old default; with hosts the edge
      // serves it, and a published port would only be one more port per service to keep apart.
      ...(raw.proxy.port !== undefined || !raw.proxy.hosts ? { port: raw.proxy.port ?? 8080 } : {}),
      bind: raw.proxy.bind,
      retryAfterSeconds: raw.proxy.retry_after,
      backoffHeader: raw.proxy.backoff_header,
      ...(site ? { site } : {}),
    },
    releases: { keep: raw.releases.keep },
    ship: { compression: raw.ship.compression, relay: raw.ship.relay, relayAgent: raw.ship.relay_agent },
  };
  if (raw.hooks) {
    const argv = (c: string | string[] | undefined) => (c === undefined ? undefined : typeof c === 'string' ? ['sh', '-c', c] : c);
    const hooks = { preRelease: argv(raw.hooks.pre_release), preRollout: argv(raw.hooks.pre_rollout), postRollout: argv(raw.hooks.post_rollout) };
    config.hooks = { ...Object.fromEntries(Object.entries(hooks).filter(([, v]) => v !== undefined)), timeoutSeconds: raw.hooks.timeout_seconds };
  }
  if (accessories && accessories.length > 0) config.accessories = accessories;
  const roles =
    raw.roles === undefined
      ? []
      : toRoles(
          raw.roles,
          raw.service,
          hosts,
          (accessories ?? []).map((a) => a.name),
          at,
        );
  if (roles.length > 0) config.roles = roles;
  const swarm = swarmConfig(raw, hosts, at);
  if (swarm) config.swarm = swarm;
  return { config, problems };
}
