/**
 * The shared body of `rollout` and `rollback`: under the lock, prepare every host, pick the target release, and
 * move instances one at a time; or with --plan, print what would run.
 */
import { containerNames, type HostRuntime, readFleet } from '../rollout/fleet.js';
import { planRollout } from '../rollout/plan.js';
import { runRollout } from '../rollout/run.js';
import { withLock } from '../rollout/session.js';
import { ensureHost, ensureProxyRunning } from '../rollout/setup.js';
import { type FleetReleases, fleetReleases } from '../rollout/target.js';
import type { DeployContext } from '../rollout/context.js';
import type { GlobalOptions } from './context.js';
import { localDocker } from './context.js';
import { errorMessage } from '../util/errors.js';
import { withProgress, withSession } from './fleet-session.js';
import { reportOutcome } from './outcome.js';
import { printMovePlan } from './plan-output.js';

export interface DeployRequest {
  kind: 'rollout' | 'rollback';
  canary?: number;
  plan?: boolean;
  parallelHosts?: boolean;
  /** Chooses the release from what the hosts have and run. */
  chooseTarget(releases: FleetReleases, fleet: HostRuntime[], ctx: DeployContext): string;
}

export async function deploy(globals: GlobalOptions, req: DeployRequest): Promise<number> {
  return withSession(globals, async ({ ctx, config }) => {
    const total = ctx.hosts.reduce((n, h) => n + h.config.instances, 0);
    if (req.plan) {
      const [releases, fleet] = await Promise.all([fleetReleases(ctx), readFleet(ctx)]);
      const target = req.chooseTarget(releases, fleet, ctx);
      const moves = planRollout(fleet.map((f) => f.state), target, { canary: req.canary });
      const order = req.parallelHosts ? 'all hosts at once, one instance at a time on each' : 'host after host, one instance at a time';
      await printMovePlan(ctx, `Plan: ${req.kind} ${config.service} to ${target}${req.canary !== undefined ? ` (canary ${req.canary})` : ''}, ${order}; nothing has been run.`, moves, containerNames(fleet));
      return 0;
    }
    const docker = await localDocker();
    const outcome = await withLock(
      ctx,
      async () => {
        // Choose first: an unknown release is bad input and must change nothing on any host.
        const [releases, fleet] = await Promise.all([fleetReleases(ctx), readFleet(ctx)]);
        const target = req.chooseTarget(releases, fleet, ctx);
        if (req.kind === 'rollout') await withProgress(`Prepare ${ctx.hosts.length} hosts`, ctx, () => Promise.all(ctx.hosts.map((h) => ensureHost(ctx, h, docker))));
        // A rollback only puts the previous release back: settings changes are rollout's and setup's business.
        else await Promise.all(ctx.hosts.map((h) => ensureProxyRunning(ctx, h)));
        const title = `${req.kind === 'rollout' ? 'Roll out' : 'Roll back to'} ${config.service}:${target.slice(0, 12)}${req.canary !== undefined ? ` (canary ${req.canary})` : ''}`;
        return withProgress(title, ctx, () => runRollout(ctx, { target, canary: req.canary, kind: req.kind, parallelHosts: req.parallelHosts }, fleet), (o) =>
          o.kind === 'done' ? undefined : `${title}: failed, ${o.kind === 'rolled-back' ? 'rolled back' : 'ROLLBACK FAILED'}`,
        );
      },
      (o) =>
        o.kind === 'done'
          ? o.complete
            ? `${req.kind} to ${o.target} complete`
            : `canary: ${o.moved.length} moved to ${o.target}`
          : // Why it failed belongs in the audit log too (redacted: it quotes the app's last output lines).
            { outcome: o.kind, detail: [errorMessage(o.error), ...(o.kind === 'rollback-failed' ? [`rollback failed: ${errorMessage(o.rollbackError)}`] : [])].join('\n') },
    );
    return reportOutcome(outcome, config.service, total);
  });
}
