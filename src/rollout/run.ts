/**
 * The rollout loop: apply the plan one move at a time; if a move fails, put every instance this run changed back on
 * the release it had, one at a time with health checks. The outcome says which of the three endings happened.
 */
import { appendDeploy } from '../state/deploys.js';
import { errorMessage } from '../util/errors.js';
import { hostByName, relState, type DeployContext } from './context.js';
import { containerNames, type HostRuntime, readFleet } from './fleet.js';
import { removeNow } from './instance-commands.js';
import { type Move, planRevert, planRollout } from './plan.js';
import { applyMove } from './swap.js';

export type RolloutOutcome =
  | { kind: 'done'; target: string; moved: Move[]; complete: boolean; remaining: number }
  | { kind: 'rolled-back'; target: string; moved: Move[]; error: Error }
  | { kind: 'rollback-failed'; target: string; moved: Move[]; error: Error; rollbackError: Error; stuck: Move[] };

export interface RolloutRequest {
  target: string;
  canary?: number;
  /** Every host at once, each still one instance at a time (rollback's default: leaving a bad release is urgent). */
  parallelHosts?: boolean;
  /** Recorded in the deploy history once every instance runs the target. */
  kind: 'rollout' | 'rollback';
}

/** `fleet`: what the hosts run, if the caller has just read it (saves a round trip per host). */
export async function runRollout(ctx: DeployContext, req: RolloutRequest, known?: HostRuntime[]): Promise<RolloutOutcome> {
  const fleet = known ?? (await readFleet(ctx));
  const pending = planRollout(fleet.map((f) => f.state), req.target);
  const moves = planRollout(fleet.map((f) => f.state), req.target, { canary: req.canary });
  const { done, error } = await applyMoves(ctx, moves, req.parallelHosts ?? false, containerNames(fleet));
  if (error) {
    ctx.report({ kind: 'warning', message: `${error.error.message.split('\n')[0]}; rolling back ${done.length} changed instance(s)` });
    return revert(ctx, req.target, done, error.error, req.parallelHosts ?? false);
  }
  const remaining = pending.length - moves.length;
  const complete = remaining === 0;
  if (complete) {
    // Scale-down leftovers go only once the new release serves everywhere.
    for (const f of fleet) for (const x of f.extra) await hostByName(ctx, f.state.host).run(removeNow(x.name));
    const entry = { tag: req.target, time: new Date().toISOString(), who: ctx.who, kind: req.kind };
    for (const ssh of ctx.hosts) await ssh.run(appendDeploy(relState(ctx), entry));
  }
  return { kind: 'done', target: req.target, moved: done, complete, remaining };
}

/**
 * Applies moves one at a time per host; hosts one after another, or all at once with `parallelHosts`. The first
 * failure stops every host after the move it is in, so the caller can put back exactly the moves in `done`.
 */
async function applyMoves(
  ctx: DeployContext,
  moves: Move[],
  parallelHosts: boolean,
  existing?: Map<string, ReadonlySet<string>>,
): Promise<{ done: Move[]; error?: { host: string; error: Error } }> {
  const done: Move[] = [];
  let error: { host: string; error: Error } | undefined;
  const runHost = async (hostMoves: Move[]) => {
    for (const move of hostMoves) {
      if (error) return;
      try {
        await applyMove(ctx, hostByName(ctx, move.host), move, existing?.get(move.host));
        done.push(move);
      } catch (err) {
        error ??= { host: move.host, error: err instanceof Error ? err : new Error(errorMessage(err)) };
        return;
      }
    }
  };
  if (parallelHosts) await Promise.all([...groupByHost(moves).values()].map(runHost));
  else await runHost(moves);
  return { done, error };
}

function groupByHost(moves: Move[]): Map<string, Move[]> {
  const out = new Map<string, Move[]>();
  for (const m of moves) out.set(m.host, [...(out.get(m.host) ?? []), m]);
  return out;
}

async function revert(ctx: DeployContext, target: string, done: Move[], error: Error, parallelHosts: boolean): Promise<RolloutOutcome> {
  const back = planRevert(done);
  const result = await applyMoves(ctx, back, parallelHosts);
  if (result.error) {
    const stuck = back.filter((m) => !result.done.includes(m));
    return { kind: 'rollback-failed', target, moved: done, error, rollbackError: result.error.error, stuck };
  }
  return { kind: 'rolled-back', target, moved: done, error };
}
