/**
 * The rollout loop: apply the plan one move at a time; if a move fails, put every instance this run changed back on
 * the release it had, one at a time with health checks. The outcome says which of the three endings happened.
 */
import { appendDeploy } from '../state/deploys.js';
import { errorMessage } from '../util/errors.js';
import { hostByName, relState, type DeployContext } from './context.js';
import { readFleet } from './fleet.js';
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
  /** Recorded in the deploy history once every instance runs the target. */
  kind: 'rollout' | 'rollback';
}

export async function runRollout(ctx: DeployContext, req: RolloutRequest): Promise<RolloutOutcome> {
  const fleet = await readFleet(ctx);
  const pending = planRollout(fleet.map((f) => f.state), req.target);
  const moves = planRollout(fleet.map((f) => f.state), req.target, { canary: req.canary });
  const done: Move[] = [];
  for (const move of moves) {
    try {
      await applyMove(ctx, hostByName(ctx, move.host), move);
      done.push(move);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(errorMessage(err));
      ctx.report({ kind: 'warning', host: move.host, message: `${error.message.split('\n')[0]}; rolling back ${done.length} changed instance(s)` });
      return revert(ctx, req.target, done, error);
    }
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

async function revert(ctx: DeployContext, target: string, done: Move[], error: Error): Promise<RolloutOutcome> {
  const back = planRevert(done);
  for (const [i, move] of back.entries()) {
    try {
      await applyMove(ctx, hostByName(ctx, move.host), move);
    } catch (err) {
      const rollbackError = err instanceof Error ? err : new Error(errorMessage(err));
      return { kind: 'rollback-failed', target, moved: done, error, rollbackError, stuck: back.slice(i) };
    }
  }
  return { kind: 'rolled-back', target, moved: done, error };
}
