/** `--plan` output, the same for every command and backend: the title, the notes, then per host its steps. */
import type { Plan } from '../../backend/plan.js';

export function printPlan(plan: Plan): void {
  process.stdout.write(`Plan: ${plan.title}\n`);
  for (const n of plan.notes) process.stdout.write(`${n}\n`);
  for (const h of plan.hosts) process.stdout.write(`\n${h.name}\n${h.steps.join('\n')}\n`);
}
