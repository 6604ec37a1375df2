/**
 * The shared body of `rollout` and `rollback`: under the lock, pick the target release, prepare the hosts, and move
 * instances one at a time. With --plan the very same code runs against dry-run runners (reads run, writes are
 * recorded), and the recorded commands are printed: the plan is what a run would do, host preparation included.
 */
import type Docker from 'dockerode';
import { ensureAccessories } from '../accessories/run.js';
import { DryRunRunner } from '../hosts/runner.js';
import type { DeployContext } from '../fleet/context.js';
import { type HostRuntime, readFleet } from '../rollout/fleet.js';
import { type RolloutOutcome, runRollout } from '../rollout/run.js';
import { withLock } from '../fleet/lock.js';
import { ensureHost, ensureProxyRunning, settleSettings } from '../rollout/setup.js';
import { type FleetReleases, fleetReleases } from '../fleet/releases.js';
import type { GlobalOptions } from './context.js';
import { localDocker } from './context.js';
import { eventLine, withProgress, withSession } from './fleet-session.js';
import type { ProgressEvent } from '../util/events.js';
import { onInterrupt } from './interrupt.js';
import { reportOutcome } from './outcome.js';
import { errorMessage } from '../util/errors.js';

export interface DeployRequest {
  kind: 'rollout' | 'rollback';
  canary?: number;
  plan?: boolean;
  parallelHosts?: boolean;
  /** Chooses the release from what the hosts have and run. */
  chooseTarget(releases: FleetReleases, fleet: HostRuntime[], ctx: DeployContext): string;
}

function titleOf(req: DeployRequest, service: string, target: string): string {
  return `${req.kind === 'rollout' ? 'Roll out' : 'Roll back to'} ${service}:${target.slice(0, 12)}${req.canary !== undefined ? ` (canary ${req.canary})` : ''}`;
}

/** Everything a rollout or rollback does on the hosts, for a real run and a plan alike. */
async function carryOut(given: DeployContext, req: DeployRequest, docker: Docker, progress: boolean): Promise<RolloutOutcome> {
  const ctx: DeployContext = { ...given, proxySettings: new Map() };
  const step = <T>(title: string, work: () => Promise<T>, failure?: (r: T) => string | undefined) =>
    progress ? withProgress(title, ctx, work, failure) : work();
  return withLock(
    ctx,
    async () => {
      // Choose first: an unknown release is bad input and must change nothing on any host.
      const [releases, fleet] = await Promise.all([fleetReleases(ctx), readFleet(ctx)]);
      const target = req.chooseTarget(releases, fleet, ctx);
      // A rollout prepares each host as setup does, missing accessories included (a running one is never restarted).
      if (req.kind === 'rollout') {
        await step(`Prepare ${ctx.hosts.length} hosts`, () =>
          Promise.all(ctx.hosts.map((h) => ensureHost(ctx, h, docker, undefined, { transition: true }).then(() => ensureAccessories(ctx, h, docker)))),
        );
      }
      // A rollback only puts the previous release back: settings changes are rollout's and setup's business.
      else await Promise.all(ctx.hosts.map((h) => ensureProxyRunning(ctx, h)));
      const title = titleOf(req, ctx.config.service, target);
      const run = async () => {
        const outcome = await runRollout(ctx, { target, canary: req.canary, kind: req.kind, parallelHosts: req.parallelHosts }, fleet);
        // A settings change settles once every instance moved (or every one is back); a canary keeps it going.
        await Promise.all(
          ctx.hosts.map((h) =>
            settleSettings(ctx, h).catch((err: Error) =>
              ctx.report({ kind: 'warning', host: h.name, message: `proxy settings not settled yet (the next rollout or rollback does it): ${err.message}` }),
            ),
          ),
        );
        return outcome;
      };
      return step(title, run, (o) =>
        o.kind === 'done'
          ? undefined
          : o.kind === 'interrupted'
            ? `${title}: interrupted`
            : `${title}: failed, ${o.kind === 'rolled-back' ? 'rolled back' : 'ROLLBACK FAILED'}`,
      );
    },
    (o) =>
      o.kind === 'done'
        ? o.complete
          ? `${req.kind} to ${o.target} complete`
          : `canary: ${o.moved.length} moved to ${o.target}`
        : o.kind === 'interrupted'
          ? `interrupted after ${o.moved.length} move(s) to ${o.target}`
          : // Why it failed belongs in the audit log too (redacted: it quotes the app's last output lines).
            {
              outcome: o.kind,
              detail: [errorMessage(o.error), ...(o.kind === 'rollback-failed' ? [`rollback failed: ${errorMessage(o.rollbackError)}`] : [])].join('\n'),
            },
  );
}

export async function deploy(globals: GlobalOptions, req: DeployRequest): Promise<number> {
  return withSession(globals, async ({ ctx, config }) => {
    const total = ctx.hosts.reduce((n, h) => n + h.config.instances, 0);
    const docker = await localDocker();
    if (req.plan) {
      const dry = ctx.hosts.map((h) => new DryRunRunner(h));
      const outcome = await carryOut({ ...ctx, hosts: dry, report: () => {} }, req, docker, false);
      const order = req.parallelHosts ? 'all hosts at once, one instance at a time on each' : 'host after host, one instance at a time';
      process.stdout.write(
        `Plan: ${req.kind} ${config.service} to ${outcome.target}${req.canary !== undefined ? ` (canary ${req.canary})` : ''}, ${order}; nothing has been run.\n`,
      );
      process.stdout.write(
        `Moves: ${outcome.moved.length === 0 ? 'none, every instance already runs it' : outcome.moved.map((m) => `\n  ${m.host} slot ${m.slot}: ${m.from ? m.from.slice(0, 12) : '(empty)'} -> ${m.to ? `${m.to.slice(0, 12)} as ${m.colour}` : '(removed)'}`).join('')}\n`,
      );
      process.stdout.write('If a new instance fails its health check, it is removed and every instance changed so far is put back the same way.\n');
      for (const d of dry) process.stdout.write(`\n${d.name}\n${d.describe().join('\n')}\n`);
      return 0;
    }
    const interrupt = { requested: false };
    const stop = onInterrupt(() => (interrupt.requested = true));
    try {
      // Outside a progress view (taking the lock the fleet) warnings go straight to stderr.
      const report = (e: ProgressEvent) => void (e.kind === 'warning' && process.stderr.write(`warning: ${eventLine(e)}\n`));
      const outcome = await carryOut({ ...ctx, interrupt, report }, req, docker, true);
      return reportOutcome(outcome, config.service, total);
    } finally {
      stop();
    }
  });
}
