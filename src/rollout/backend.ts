/**
 * The per-host backend: each host runs its own proxy and the service's instances in slots, swapped one at a time
 * (deploy.ts, run.ts, swap.ts). Each method opens the hosts it needs, does its work and closes them.
 */
import { accessoryVerb } from '../accessories/verbs.js';
import { findAccessory } from '../accessories/run.js';
import type { Backend, BackendEnv, LogsRequest, LogsResult, MaintenanceResult, ReleaseTargets, SetupResult, StatusResult } from '../backend/types.js';
import { plannedContext } from '../backend/plan.js';
import type { Config, HostConfig } from '../config/types.js';
import { relState } from '../fleet/context.js';
import { withLock } from '../fleet/lock.js';
import { releaseLocks } from '../fleet/lock-release.js';
import { names } from '../fleet/names.js';
import { withHostSession } from '../fleet/session.js';
import { execOneOff } from '../exec/run.js';
import { openFleet, selectHosts } from '../hosts/fleet.js';
import type { Runner } from '../hosts/runner.js';
import { listNamedLogSource, listRoleLogSources } from '../logs/commands.js';
import { findRole, roleHosts } from '../config/roles.js';
import { removeService } from '../remove/run.js';
import { readLogs } from '../logs/read.js';
import { ExitCode, InputError } from '../util/errors.js';
import { ensureAccessories } from '../accessories/run.js';
import { deployOnHosts } from './deploy.js';
import { ensureHost } from './setup.js';
import { hostStatus } from './status.js';

const hostsWord = (n: number) => `${n} host${n === 1 ? '' : 's'}`;

export function hostsBackend(config: Config, env: BackendEnv): Backend {
  return {
    kind: 'hosts',

    async releaseTargets(selected?: HostConfig[]): Promise<ReleaseTargets> {
      return { hosts: selected ?? config.hosts, skipped: [], caughtUp: [], exitCode: ExitCode.ok };
    },

    setup: ({ plan }) =>
      withHostSession(config, env, async (ctx): Promise<SetupResult> => {
        const docker = await env.docker();
        // Accessories that are missing are started once the host is ready (a running one is never restarted).
        const prepare = (c: typeof ctx) => (h: Runner) => ensureHost(c, h, docker).then(() => ensureAccessories(c, h, docker));
        if (plan) {
          const dry = plannedContext(ctx);
          await withLock(
            dry.ctx,
            () => Promise.all(dry.ctx.hosts.map(prepare(dry.ctx))),
            () => 'setup done',
          );
          return { backend: 'plan', plan: dry.plan(`setup on ${hostsWord(ctx.hosts.length)}; nothing has been run.`), exitCode: ExitCode.ok };
        }
        await withLock(
          ctx,
          () => env.step(`Set up ${ctx.hosts.length} hosts`, () => Promise.all(ctx.hosts.map(prepare(ctx)))),
          () => 'setup done',
        );
        return { backend: 'hosts', hosts: ctx.hosts.length, caughtUp: [], exitCode: ExitCode.ok };
      }),

    deploy: (req) => withHostSession(config, env, (ctx) => deployOnHosts(ctx, req, env)),

    maintenance: ({ mode, plan }) =>
      withHostSession(config, env, async (ctx): Promise<MaintenanceResult> => {
        const docker = await env.docker();
        const state = mode.kind === 'serving' ? 'off' : 'on';
        if (plan) {
          const dry = plannedContext(ctx);
          await withLock(
            dry.ctx,
            () => Promise.all(dry.ctx.hosts.map((h) => ensureHost(dry.ctx, h, docker, mode))),
            () => `maintenance ${state}`,
          );
          return { backend: 'plan', plan: dry.plan(`maintenance ${state} on ${hostsWord(ctx.hosts.length)}; nothing has been run.`), exitCode: ExitCode.ok };
        }
        await withLock(
          ctx,
          () => env.step(`Maintenance ${state} on ${ctx.hosts.length} hosts`, () => Promise.all(ctx.hosts.map((h) => ensureHost(ctx, h, docker, mode)))),
          () => `maintenance ${state}`,
        );
        return { backend: 'hosts', mode, hosts: ctx.hosts.length, exitCode: ExitCode.ok };
      }),

    async status(): Promise<StatusResult> {
      const fleet = await openFleet(config.hosts, { acceptNewHostKeys: env.acceptNewHostKeys });
      try {
        const ctx = { config, hosts: fleet.hosts, who: '', command: 'status', report: env.report };
        const rows = await Promise.all(
          fleet.connections.map((c) => (c.ssh ? hostStatus(ctx, c.ssh) : Promise.resolve({ host: c.host.name, error: c.error.message }))),
        );
        return { backend: 'hosts', rows, exitCode: rows.some((r) => 'error' in r) ? ExitCode.failed : ExitCode.ok };
      } finally {
        fleet.close();
      }
    },

    releaseLock: (req = {}) =>
      withHostSession(config, env, async (ctx) => {
        const r = await releaseLocks(ctx.hosts, relState(ctx), ctx, req.force === true);
        return { ...r, exitCode: r.refused.length ? ExitCode.needsAction : ExitCode.ok };
      }),

    logs: (req) => hostLogs(config, env, req),

    async exec(req, io) {
      const role = req.role === undefined ? undefined : findRole(config, req.role);
      const picked = req.host === undefined ? undefined : selectHosts(config, [req.host]);
      const host = (role ? roleHosts(config, role, picked) : (picked ?? config.hosts))[0]!;
      const fleet = await openFleet([host], { acceptNewHostKeys: env.acceptNewHostKeys });
      try {
        const ssh = fleet.hosts[0];
        if (!ssh) throw fleet.unreachable[0]!.error;
        return await execOneOff(
          ssh,
          config,
          { argv: req.argv, release: req.release, interactive: req.interactive, tty: req.tty, ...(role ? { role } : {}) },
          io,
        );
      } finally {
        fleet.close();
      }
    },

    accessory: (req) => accessoryVerb(config, env, req),

    remove: (req) => removeService(config, env, req),
  };
}

/** The app's logs on every (or each --host) host, or one accessory's on its hosts; an unreachable host is reported. */
async function hostLogs(config: Config, env: BackendEnv, req: LogsRequest): Promise<LogsResult> {
  let hosts = req.hosts ?? config.hosts;
  let list: ((following: boolean) => ReturnType<typeof listNamedLogSource>) | undefined;
  let what: string | undefined;
  if (req.accessory !== undefined) {
    const a = findAccessory(config, req.accessory);
    hosts = req.hosts ?? config.hosts.filter((h) => a.hosts.includes(h.name));
    const elsewhere = hosts.filter((h) => !a.hosts.includes(h.name));
    if (elsewhere.length) {
      throw new InputError(`accessory ${a.name} does not run on ${elsewhere.map((h) => h.name).join(', ')}`, { hint: `it runs on: ${a.hosts.join(', ')}` });
    }
    const container = names.accessory(config.service, a.name);
    // Not following: a stopped accessory's logs too (why did it stop?); following: the running one.
    list = (following) => listNamedLogSource(container, !req.follow && !following);
    what = `${container} container (run: boxship accessory up ${a.name})`;
  } else if (req.role !== undefined) {
    const role = findRole(config, req.role);
    hosts = roleHosts(config, role, req.hosts);
    list = () => listRoleLogSources(config.service, role.name);
    what = `${role.name} container (run: boxship rollout)`;
  }
  const fleet = await openFleet(hosts, { acceptNewHostKeys: env.acceptNewHostKeys });
  const unreachable = fleet.unreachable.map((u) => ({ host: u.host.name, error: u.error.message }));
  for (const u of fleet.unreachable) req.onUnreachable(u.host.name, u.error);
  try {
    await readLogs({
      hosts: fleet.hosts,
      service: config.service,
      proxy: req.proxy,
      follow: req.follow,
      since: req.since,
      lines: req.lines,
      ...(list ? { list, what } : {}),
      signal: req.signal,
      onLine: req.onLine,
      report: env.report,
    });
  } finally {
    fleet.close();
  }
  return { unreachable, exitCode: unreachable.length ? ExitCode.failed : ExitCode.ok };
}
