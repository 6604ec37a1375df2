/**
 * The rollout loop: first converge what an interrupted run left behind, then apply the plan one move at a time (the
 * roles beside web first, roles.ts, then web); if a move fails, put every instance and role container this run changed
 * back on the release it had, one at a time with health checks.
 * Old instances drain in the background on their hosts while the next slot moves, and go on draining after the run
 * ends: traffic has moved and the new instances are healthy by then, so waiting would only keep the command (and the
 * deploy lock) for instances that no longer get a request. The next run waits for one only if it needs its colour.
 * `wait` keeps the old ending, once every drain has finished, for scripts that need it. An interrupt (Ctrl-C) lets the
 * move in flight finish, then stops. The outcome says which ending happened.
 */
import { appendDeploy } from '../state/deploys.js';
import { errorMessage } from '../util/errors.js';
import { headline } from '../util/sentence.js';
import { converge, convergeSteps, drainsInProgress } from './converge.js';
import { hostByName, relState, type DeployContext } from '../fleet/context.js';
import { containerNames, type HostRuntime, readFleet } from './fleet.js';
import { instanceSpec, removeNow, waitDrained } from './instance-commands.js';
import { names } from '../fleet/names.js';
import { type Move, planRevert, planRollout } from './plan.js';
import { applyMove, stopSeconds } from './swap.js';
import { applyRoleMoves, planRoleRevert, planRoles, readRoles, removeExtraRoles, type RoleMove } from './roles.js';

/**
 * `roles`: the role containers the run moved (absent: none); `stuckRoles`, those a failed rollback could not put back.
 * `remaining`: web instances not on the target yet; `rolesRemaining`, role containers (absent: none left).
 */
export type RolloutOutcome =
  | { kind: 'done'; target: string; moved: Move[]; roles?: RoleMove[]; complete: boolean; remaining: number; rolesRemaining?: number }
  | { kind: 'interrupted'; target: string; moved: Move[]; roles?: RoleMove[]; remaining: number; rolesRemaining?: number }
  | { kind: 'rolled-back'; target: string; moved: Move[]; roles?: RoleMove[]; error: Error }
  | { kind: 'rollback-failed'; target: string; moved: Move[]; roles?: RoleMove[]; error: Error; rollbackError: Error; stuck: Move[]; stuckRoles?: RoleMove[] };

export interface RolloutRequest {
  target: string;
  canary?: number;
  /** Every host at once, each still one instance at a time (rollback's default: leaving a bad release is urgent). */
  parallelHosts?: boolean;
  /** Recorded in the deploy history once every instance runs the target. */
  kind: 'rollout' | 'rollback';
  /** End only once every old instance has finished draining (`--wait`); default: leave them draining on their hosts. */
  wait?: boolean;
}

/** The old instances draining on each host: a move that needs one's colour waits for it; `--wait` waits for them all. */
class Drains {
  private readonly byHost = new Map<string, Set<string>>();
  add(host: string, container: string): void {
    const set = this.byHost.get(host) ?? new Set<string>();
    set.add(container);
    this.byHost.set(host, set);
  }
  has(host: string, container: string): boolean {
    return this.byHost.get(host)?.has(container) ?? false;
  }
  /** Waits for some (or all) of a host's drains; a drain past its stop timeout is removed. */
  async wait(ctx: DeployContext, host: string, only?: string[]): Promise<void> {
    const set = this.byHost.get(host);
    const list = (only ?? [...(set ?? [])]).filter((c) => set?.has(c));
    if (list.length === 0) return;
    await hostByName(ctx, host).run(waitDrained(list, stopSeconds(ctx.config) + 5));
    for (const c of list) set!.delete(c);
  }
  get count(): number {
    return [...this.byHost.values()].reduce((n, s) => n + s.size, 0);
  }
  async waitAll(ctx: DeployContext): Promise<number> {
    const hosts = [...this.byHost.entries()].filter(([, s]) => s.size > 0);
    const count = this.count;
    if (count === 0) return 0;
    ctx.report({ kind: 'step', message: `waiting for ${count} old instance(s) to finish their requests (up to ${stopSeconds(ctx.config)}s)` });
    await Promise.all(hosts.map(([host]) => this.wait(ctx, host)));
    return count;
  }
}

/** Clears what an interrupted run left on every host; re-reads the fleet if anything changed. */
async function convergeFleet(ctx: DeployContext, fleet: HostRuntime[], drains: Drains): Promise<HostRuntime[]> {
  let changed = false;
  await Promise.all(
    fleet.map(async (f) => {
      const steps = convergeSteps(ctx.config, f.instances);
      if (steps.length === 0) return;
      changed = true;
      const ssh = hostByName(ctx, f.state.host);
      const left = await converge(ssh, steps, (note) => ctx.report({ kind: 'warning', host: ssh.name, message: note }));
      for (const c of left) drains.add(ssh.name, c);
    }),
  );
  // Drains an earlier run left going: not leftovers, but a move that needs one's colour waits for it.
  for (const f of fleet) for (const c of drainsInProgress(f.instances)) drains.add(f.state.host, c);
  return changed ? readFleet(ctx) : fleet;
}

/** `fleet`: what the hosts run, if the caller has just read it (saves a round trip per host). */
export async function runRollout(ctx: DeployContext, req: RolloutRequest, known?: HostRuntime[]): Promise<RolloutOutcome> {
  const drains = new Drains();
  try {
    const fleet = await convergeFleet(ctx, known ?? (await readFleet(ctx)), drains);
    const spec = instanceSpec(ctx.config);
    const pending = planRollout(
      fleet.map((f) => f.state),
      req.target,
      { spec },
    );
    const moves = planRollout(
      fleet.map((f) => f.state),
      req.target,
      { canary: req.canary, spec },
    );
    // A canary step moves up to N containers of each role as well as N web instances: the canary runs every
    // role's new code. The full plan says what is left for the rollout that promotes it.
    const roleFleet = await readRoles(ctx);
    const rolePlan = planRoles(ctx.config, roleFleet, req.target);
    const roleMoves = req.canary === undefined ? rolePlan.moves : planRoles(ctx.config, roleFleet, req.target, { canary: req.canary }).moves;
    const roles = await applyRoleMoves(ctx, roleMoves);
    const moved = (webDone: Move[]) => ({ target: req.target, moved: webDone, ...(roles.done.length ? { roles: roles.done } : {}) });
    const failed = async (error: Error, webDone: Move[]): Promise<RolloutOutcome> => {
      // Putting back is the new holder's business now: it converges what this run left.
      if (ctx.lock?.lost) throw ctx.lock.lost;
      const count = webDone.length + roles.done.length;
      ctx.report({ kind: 'warning', message: `${headline(error.message)}; rolling back ${count} changed instance(s)` });
      return await revert(ctx, moved(webDone), error, req.parallelHosts ?? false, drains);
    };
    if (roles.error) return await failed(roles.error, []);
    const rolesLeft = rolePlan.moves.length - roles.done.length;
    const rolesRemaining = rolesLeft > 0 ? { rolesRemaining: rolesLeft } : {};
    if (roles.interrupted) return { kind: 'interrupted', ...moved([]), remaining: pending.length, ...rolesRemaining };
    const { done, error, interrupted } = await applyMoves(ctx, moves, req.parallelHosts ?? false, drains, containerNames(fleet));
    if (error) return await failed(error.error, done);
    const remaining = pending.length - done.length;
    if (interrupted) return { kind: 'interrupted', ...moved(done), remaining, ...rolesRemaining };
    const complete = remaining === 0 && rolesLeft === 0;
    if (complete) {
      // Scale-down leftovers go only once the new release serves everywhere.
      for (const f of fleet) for (const x of f.extra) await hostByName(ctx, f.state.host).run(removeNow(x.name));
      await removeExtraRoles(ctx, rolePlan.extra);
      const entry = { tag: req.target, time: new Date().toISOString(), who: ctx.who, kind: req.kind };
      for (const ssh of ctx.hosts) await ssh.run(appendDeploy(relState(ctx), entry));
    }
    return { kind: 'done', ...moved(done), complete, remaining, ...rolesRemaining };
  } finally {
    if (req.wait) {
      // Even on failure: the command ends when the old instances have finished their requests.
      await drains.waitAll(ctx).catch((err: Error) => ctx.report({ kind: 'warning', message: `could not confirm every drain finished: ${err.message}` }));
    } else if (drains.count > 0) {
      ctx.report({
        kind: 'step',
        message: `${drains.count} old instance(s) finish their requests on their hosts in the background (up to ${stopSeconds(ctx.config)}s), then are removed; boxship status shows them`,
      });
    }
  }
}

/**
 * Applies moves one at a time per host; hosts one after another, or all at once with `parallelHosts`. The first
 * failure stops every host after the move it is in, so the caller can put back exactly the moves in `done`. An
 * interrupt request stops the same way, without an error.
 */
async function applyMoves(
  ctx: DeployContext,
  moves: Move[],
  parallelHosts: boolean,
  drains: Drains,
  existing?: Map<string, ReadonlySet<string>>,
): Promise<{ done: Move[]; error?: { host: string; error: Error }; interrupted: boolean }> {
  const done: Move[] = [];
  let error: { host: string; error: Error } | undefined;
  let interrupted = false;
  const runHost = async (hostMoves: Move[]) => {
    for (const move of hostMoves) {
      if (error) return;
      if (ctx.interrupt?.requested) {
        interrupted = true;
        return;
      }
      try {
        // A run that was taken over (it stalled past the stale window) must not change what the new holder owns.
        await ctx.lock?.verify?.(move.host);
        // The container that last had this colour of the slot may still drain under its alias: a new instance
        // must not share the alias with it (the health check could reach the old one).
        const clash = names.draining(ctx.config.service, move.slot, move.colour);
        if (drains.has(move.host, clash)) await drains.wait(ctx, move.host, [clash]);
        const result = await applyMove(ctx, hostByName(ctx, move.host), move, existing?.get(move.host));
        if (result.draining) drains.add(move.host, result.draining);
        done.push(move);
      } catch (err) {
        error ??= { host: move.host, error: err instanceof Error ? err : new Error(errorMessage(err)) };
        return;
      }
    }
  };
  if (parallelHosts) await Promise.all([...groupByHost(moves).values()].map(runHost));
  else await runHost(moves);
  return { done, error, interrupted };
}

function groupByHost(moves: Move[]): Map<string, Move[]> {
  const out = new Map<string, Move[]>();
  for (const m of moves) out.set(m.host, [...(out.get(m.host) ?? []), m]);
  return out;
}

/** Puts back the web instances, newest move first, then the role containers (moved before them). */
async function revert(
  ctx: DeployContext,
  run: { target: string; moved: Move[]; roles?: RoleMove[] },
  error: Error,
  parallelHosts: boolean,
  drains: Drains,
): Promise<RolloutOutcome> {
  const back = planRevert(run.moved);
  const rolesBack = planRoleRevert(run.roles ?? []);
  // Putting the old release back is not stopped by an interrupt: leaving the fleet half-reverted is worse.
  const interrupt = ctx.interrupt;
  ctx.interrupt = undefined;
  try {
    const result = await applyMoves(ctx, back, parallelHosts, drains);
    const roles = await applyRoleMoves(ctx, rolesBack);
    const rollbackError = result.error?.error ?? roles.error;
    if (rollbackError) {
      const stuck = back.filter((m) => !result.done.includes(m));
      const stuckRoles = rolesBack.filter((m) => !roles.done.includes(m));
      return { kind: 'rollback-failed', ...run, error, rollbackError, stuck, ...(stuckRoles.length ? { stuckRoles } : {}) };
    }
    return { kind: 'rolled-back', ...run, error };
  } finally {
    ctx.interrupt = interrupt;
  }
}
