/**
 * rollout and rollback on the per-host backend: under one lock, pick the target release, prepare the hosts, run the
 * pre_rollout hook, move instances one at a time, run the post_rollout hook after a complete rollout. With --plan
 * the very same code runs against dry-run runners (reads run, writes are recorded): the plan is what a run would
 * do, host preparation and hooks included.
 */
import type Docker from 'dockerode';
import { ensureAccessories } from '../accessories/run.js';
import type { BackendEnv, DeployRequest, DeployResult, HookFailure, HookRun } from '../backend/types.js';
import { plannedContext } from '../backend/plan.js';
import type { DeployContext } from '../fleet/context.js';
import { withLock } from '../fleet/lock.js';
import { names } from '../fleet/names.js';
import { type FleetReleases, fleetReleases, pickRelease, rollbackTarget } from '../fleet/releases.js';
import { rolloutHook } from '../hooks/around.js';
import { ExitCode, errorMessage } from '../util/errors.js';
import { shortSha } from '../util/short.js';
import { type HostRuntime, readFleet } from './fleet.js';
import { type RolloutOutcome, runRollout } from './run.js';
import { ensureHost, ensureProxyRunning, settleSettings } from './setup.js';

function chooseTarget(req: DeployRequest, releases: FleetReleases, fleet: HostRuntime[], hosts: string[]): string {
  if (req.kind === 'rollout' || req.wanted !== undefined) return pickRelease(releases, req.wanted, hosts);
  // A canary in progress: some instances run something other than the current release. Abort it.
  const canary = releases.current !== undefined && fleet.some((f) => f.state.slots.some((s) => s.tag !== null && s.tag !== releases.current));
  return pickRelease(releases, rollbackTarget(releases, canary).target, hosts);
}

function outcomeExitCode(o: RolloutOutcome): number {
  return o.kind === 'done' ? ExitCode.ok : o.kind === 'interrupted' ? ExitCode.interrupted : o.kind === 'rolled-back' ? ExitCode.failed : ExitCode.needsAction;
}

function titleOf(req: DeployRequest, service: string, target: string): string {
  return `${req.kind === 'rollout' ? 'Roll out' : 'Roll back to'} ${service}:${shortSha(target)}${req.canary !== undefined ? ` (canary ${req.canary})` : ''}`;
}

function failedTitle(title: string, o: RolloutOutcome): string | undefined {
  if (o.kind === 'done') return undefined;
  return o.kind === 'interrupted' ? `${title}: interrupted` : `${title}: failed, ${o.kind === 'rolled-back' ? 'rolled back' : 'ROLLBACK FAILED'}`;
}

function auditOf(req: DeployRequest, o: RolloutOutcome) {
  if (o.kind === 'done') return o.complete ? `${req.kind} to ${o.target} complete` : `canary: ${o.moved.length} moved to ${o.target}`;
  if (o.kind === 'interrupted') return `interrupted after ${o.moved.length} move(s) to ${o.target}`;
  // Why it failed belongs in the audit log too (redacted: it quotes the app's last output lines).
  return {
    outcome: o.kind,
    detail: [errorMessage(o.error), ...(o.kind === 'rollback-failed' ? [`rollback failed: ${errorMessage(o.rollbackError)}`] : [])].join('\n'),
  };
}

interface Carried {
  outcome: RolloutOutcome;
  hooks: HookRun[];
  hookFailure?: HookFailure;
}

/** Everything a rollout or rollback does on the hosts, for a real run and a plan alike. */
async function carryOut(given: DeployContext, req: DeployRequest, env: BackendEnv, docker: Docker, step: BackendEnv['step']): Promise<Carried> {
  const ctx: DeployContext = { ...given, proxySettings: new Map() };
  const hosts = ctx.hosts.map((h) => h.name);
  const hooks: HookRun[] = [];
  let hookFailure: HookFailure | undefined;
  const result = await withLock(
    ctx,
    async (): Promise<RolloutOutcome> => {
      // Choose first: an unknown release is bad input and must change nothing on any host.
      const [releases, fleet] = await Promise.all([fleetReleases(ctx), readFleet(ctx)]);
      const target = chooseTarget(req, releases, fleet, hosts);
      if (req.kind === 'rollout') {
        // The pre hook first (it prepares its own host as setup does): a failure leaves every host as it was.
        const pre = await rolloutHook(ctx, 'pre_rollout', target, env.hookIo, docker);
        if (pre) hooks.push(pre);
        if (pre && pre.exitCode !== 0) {
          hookFailure = {
            run: pre,
            message: `the pre_rollout hook failed with exit code ${pre.exitCode} on ${pre.host}; nothing was rolled out and nothing serving changed`,
            hint: `fix the hook or the release, then run: boxship ${req.canary !== undefined ? `rollout --canary ${req.canary}` : 'rollout'} (the release is shipped already)`,
          };
          return { kind: 'done', target, moved: [], complete: false, remaining: 0 };
        }
        // A rollout prepares each host as setup does, missing accessories included (a running one is never restarted).
        await step(`Prepare ${ctx.hosts.length} hosts`, () =>
          Promise.all(ctx.hosts.map((h) => ensureHost(ctx, h, docker, undefined, { transition: true }).then(() => ensureAccessories(ctx, h, docker)))),
        );
      }
      // A rollback only puts the previous release back: settings changes are rollout's and setup's business.
      else await Promise.all(ctx.hosts.map((h) => ensureProxyRunning(ctx, h)));
      const title = titleOf(req, ctx.config.service, target);
      const outcome = await step(
        title,
        async () => {
          const o = await runRollout(ctx, { target, canary: req.canary, kind: req.kind, parallelHosts: req.parallelHosts, wait: req.wait }, fleet);
          // A settings change settles once every instance moved (or every one is back); a canary keeps it going.
          await Promise.all(
            ctx.hosts.map((h) =>
              settleSettings(ctx, h).catch((err: Error) =>
                ctx.report({ kind: 'warning', host: h.name, message: `proxy settings not settled yet (the next rollout or rollback does it): ${err.message}` }),
              ),
            ),
          );
          return o;
        },
        (o) => failedTitle(title, o),
      );
      // After a complete rollout only: a canary step is not one (the promoting rollout runs it).
      if (req.kind === 'rollout' && outcome.kind === 'done' && outcome.complete) {
        const post = await rolloutHook(ctx, 'post_rollout', target, env.hookIo, docker);
        if (post) hooks.push(post);
        if (post && post.exitCode !== 0) {
          hookFailure = {
            run: post,
            message: `the post_rollout hook failed with exit code ${post.exitCode} on ${post.host}; the release is serving on every instance`,
            hint: 'look at its output above; to undo the rollout, run: boxship rollback',
          };
        }
      }
      return outcome;
    },
    (o) => (hookFailure ? { outcome: `${hookFailure.run.name} hook failed`, detail: `exit ${hookFailure.run.exitCode}` } : auditOf(req, o)),
  );
  return { outcome: result, hooks, ...(hookFailure ? { hookFailure } : {}) };
}

const plainStep: BackendEnv['step'] = (_title, work) => work();

export async function deployOnHosts(ctx: DeployContext, req: DeployRequest, env: BackendEnv): Promise<DeployResult> {
  const docker = await env.docker();
  const total = ctx.hosts.reduce((n, h) => n + h.config.instances, 0);
  if (req.plan) {
    const dry = plannedContext(ctx);
    const { outcome, hooks } = await carryOut(dry.ctx, req, env, docker, plainStep);
    const order = req.parallelHosts ? 'all hosts at once, one instance at a time on each' : 'host after host, one instance at a time';
    const moves =
      outcome.moved.length === 0
        ? ['Moves: none, every instance already runs it']
        : [
            'Moves:',
            ...outcome.moved.map(
              (m) =>
                `  ${m.host} slot ${m.slot}: ${m.from ? shortSha(m.from) : '(empty)'} -> ${m.to ? `${shortSha(m.to)} as ${m.colour}` : '(removed)'}${m.from === m.to ? ' (same release, started anew: its container settings changed)' : ''}`,
            ),
          ];
    const roleMoves = (outcome.roles ?? []).map(
      (m) =>
        `  ${m.host} ${names.role(ctx.config.service, m.role, m.slot)}: ${m.from ? shortSha(m.from) : '(empty)'} -> ${m.to ? shortSha(m.to) : '(removed)'}`,
    );
    const plan = dry.plan(
      `${req.kind} ${ctx.config.service} to ${outcome.target}${req.canary !== undefined ? ` (canary ${req.canary})` : ''}, ${order}; nothing has been run.`,
      [
        ...(roleMoves.length ? ['Roles (before the web instances, one container at a time):', ...roleMoves] : []),
        ...moves,
        ...(hooks.length ? [`Hooks: ${hooks.map((h) => `${h.name} on ${h.host}`).join(', ')} (in a one-off container of the release)`] : []),
        'If a new instance fails its health check, it is removed and every instance changed so far is put back the same way.',
      ],
    );
    return { backend: 'plan', plan, exitCode: ExitCode.ok };
  }
  const { outcome, hooks, hookFailure } = await carryOut(ctx, req, env, docker, env.step);
  return {
    backend: 'hosts',
    service: ctx.config.service,
    kind: req.kind,
    outcome,
    total,
    hooks,
    ...(hookFailure ? { hookFailure } : {}),
    exitCode: hookFailure ? ExitCode.failed : outcomeExitCode(outcome),
  };
}
