/** `--plan`: the exact remote commands a change would run, per host, without running them. */
import { toShell } from '../hosts/command.js';
import type { DeployContext } from '../rollout/context.js';
import { absState, hostByName } from '../rollout/context.js';
import type { Move } from '../rollout/plan.js';
import { moveSteps } from '../rollout/swap.js';

export async function printMovePlan(ctx: DeployContext, title: string, moves: Move[], existing?: Map<string, ReadonlySet<string>>): Promise<void> {
  process.stdout.write(`${title}\n`);
  if (moves.length === 0) process.stdout.write('  nothing to do: every instance already runs it\n');
  for (const [i, m] of moves.entries()) {
    const ssh = hostByName(ctx, m.host);
    const steps = moveSteps(ctx.config, m, await absState(ctx, ssh), existing?.get(m.host));
    process.stdout.write(`\n${i + 1}. ${m.host} slot ${m.slot}: ${m.from ? m.from.slice(0, 12) : '(empty)'} -> ${m.to ? m.to.slice(0, 12) : '(removed)'}${m.to ? ` as ${m.colour}` : ''}\n`);
    const list = [...steps.prepare, steps.start, steps.wait, ...steps.retire].filter((c) => c !== undefined);
    for (const c of list) process.stdout.write(`   # ${c.why}\n   ${toShell(c)}\n`);
    if (steps.discard) process.stdout.write(`   # if the health check fails: ${toShell(steps.discard)}, then put back every instance changed so far\n`);
  }
}
