/**
 * `--plan`: the real orchestration run against dry-run runners (reads run, writes are recorded), so a plan cannot
 * drift from what a run does. This is the one place that wraps a fleet's runners and collects what they recorded.
 */
import type { DeployContext } from '../fleet/context.js';
import { DryRunRunner, type Runner } from '../hosts/runner.js';

export interface Plan {
  /** What would happen, in a sentence: "rollout hello to 3f2a9c1, host after host". */
  title: string;
  /** Lines under the title (the moves, what a failure would do, hooks). */
  notes: string[];
  /** Per host, the recorded steps as plan text (a comment with the why, then the exact command line). */
  hosts: { name: string; steps: string[] }[];
}

/** Dry-run runners standing in for `hosts`, and a function that turns what they recorded into a Plan. */
export function planned(hosts: Runner[]): { runners: DryRunRunner[]; plan(title: string, notes?: string[]): Plan } {
  const runners = hosts.map((h) => new DryRunRunner(h));
  return {
    runners,
    plan: (title, notes = []) => ({ title, notes, hosts: runners.map((r) => ({ name: r.name, steps: r.describe() })) }),
  };
}

/**
 * A command's context for a plan: its hosts replaced by dry-run runners, no progress shown, and a lock of its own
 * (taken on the dry runners, so recorded like any write, never held for real).
 */
export function plannedContext(ctx: DeployContext): { ctx: DeployContext; plan(title: string, notes?: string[]): Plan } {
  const dry = planned(ctx.hosts);
  return { ctx: { ...ctx, hosts: dry.runners, report: () => {}, lock: { held: false } }, plan: dry.plan };
}
