/**
 * `accessory up|down|restart NAME` on its hosts, under the deploy lock: every host finishes (or fails) before the
 * lock is given back, then the first failure is the error. With --plan, the same against dry-run runners.
 */
import type { AccessoryRequest, AccessoryResultSet, BackendEnv } from '../backend/types.js';
import { plannedContext } from '../backend/plan.js';
import type { Config } from '../config/types.js';
import type { DeployContext } from '../fleet/context.js';
import { withLock } from '../fleet/lock.js';
import { names } from '../fleet/names.js';
import { withHostSession } from '../fleet/session.js';
import type { Runner } from '../hosts/runner.js';
import { ExitCode } from '../util/errors.js';
import { type AccessoryResult, accessoryDown, accessoryRestart, accessoryUp, findAccessory } from './run.js';

const TITLES: Record<AccessoryRequest['verb'], string> = { up: 'Start', down: 'Stop and remove', restart: 'Restart' };

export async function accessoryVerb(config: Config, env: BackendEnv, req: AccessoryRequest): Promise<AccessoryResultSet> {
  const a = findAccessory(config, req.name);
  const docker = req.verb === 'up' ? await env.docker() : undefined;
  const actOn = (ctx: DeployContext, h: Runner) =>
    req.verb === 'up'
      ? accessoryUp(ctx, h, docker!, a)
      : req.verb === 'restart'
        ? accessoryRestart(ctx, h, a)
        : accessoryDown(ctx, h, a, Boolean(req.removeData));
  const act = async (ctx: DeployContext) => {
    const settled = await Promise.allSettled(ctx.hosts.map((h) => actOn(ctx, h)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<AccessoryResult>).value);
  };
  const audit = (rs: AccessoryResult[]) => `accessory ${req.verb} ${req.name}: ${rs.map((r) => r.action).join(', ')}`;
  return withHostSession(
    config,
    env,
    async (ctx): Promise<AccessoryResultSet> => {
      if (req.plan) {
        const dry = plannedContext(ctx);
        await withLock(dry.ctx, () => act(dry.ctx), audit);
        const title = `accessory ${req.verb} ${req.name}${req.removeData ? ' --remove-data' : ''} on ${ctx.hosts.length} host(s); nothing has been run.`;
        return { backend: 'plan', plan: dry.plan(title), exitCode: ExitCode.ok };
      }
      const title = `${TITLES[req.verb]} accessory ${req.name} (${names.accessory(config.service, req.name)}) on ${ctx.hosts.length} host(s)`;
      const hosts = await withLock(ctx, () => env.step(title, () => act(ctx)), audit);
      return { backend: 'hosts', accessory: req.name, verb: req.verb, hosts, exitCode: ExitCode.ok };
    },
    config.hosts.filter((h) => a.hosts.includes(h.name)),
  );
}
