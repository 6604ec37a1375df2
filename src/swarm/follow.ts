/**
 * Following what Swarm does after boxship asked it for something: a created service (or canary) until its tasks
 * run, a rolling update until Swarm says how it ended. Separate from rollout.ts because these are the loops that
 * wait on a remote system: they take a Clock, so a stall, a pause or a budget running out has a fast unit test.
 */
import type { Runner } from '../hosts/runner.js';
import { command } from '../hosts/command.js';
import { HostError } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { Report } from '../util/events.js';
import { inspectService, parseTasks, serviceTasks, type TaskRow } from './commands.js';
import type { HealthGate } from './health.js';
import { parseServiceSpec } from './service-spec.js';
import { withDetail } from '../util/sentence.js';

/** How often the manager is asked again. */
const POLL_MS = 1000;
/** An update Swarm never starts within this long (the spec was already the wanted one) changed nothing. */
const UNCHANGED_AFTER_MS = 5000;

const isRunning = (t: TaskRow) => t.desired === 'Running' && t.current.startsWith('Running');
const isFailure = (t: TaskRow) => /^(Failed|Rejected|Complete|Orphaned)/.test(t.current) || (t.error !== '' && !t.current.startsWith('Running'));

/** Tasks of `image` that run now. */
export function runningOf(tasks: TaskRow[], image: string): number {
  return tasks.filter((t) => isRunning(t) && t.image === image).length;
}

/**
 * Why tasks of `image` failed. A task Swarm stops because it never became healthy ends without an error of its own
 * (an app that exits cleanly on SIGTERM is "Complete"), so that is said in words.
 */
function taskError(tasks: TaskRow[], image: string, gate?: HealthGate): string | undefined {
  const bad = tasks.filter((t) => t.image === image && isFailure(t));
  const t = bad[0];
  if (!t) return undefined;
  const why = t.error || (gate && gate.kind !== 'running' ? `it did not pass its health check and was stopped (${t.current})` : `it ended (${t.current})`);
  return `task ${t.name} on ${t.node}: ${why}${bad.length > 1 ? ` (and ${bad.length - 1} more failed task(s) of this release)` : ''}`;
}

/** The last log lines of a failed task, best effort (its node may be the problem). */
async function failedTaskLogs(manager: Runner, tasks: TaskRow[], image: string): Promise<string> {
  const t = tasks.find((x) => x.image === image && isFailure(x));
  if (!t) return '';
  const r = await manager
    .exec(command('read', "read the failed task's log", 'docker', 'service', 'logs', '--raw', '--tail', '15', t.id), { allowFailure: true, timeoutMs: 15_000 })
    .catch(() => undefined);
  const text = `${r?.stdout ?? ''}${r?.stderr ?? ''}`.trim();
  return text
    ? `\nits last log lines:\n${text
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n')}`
    : '';
}

export interface Follow {
  manager: Runner;
  name: string;
  image: string;
  replicas: number;
  deadlineMs: number;
  report: Report;
  clock: Clock;
  interrupt?: { requested: boolean };
  gate?: HealthGate;
}

export type StartEnd = { ok: true } | { ok: false; error: string } | { interrupted: true };

/** Waits until `replicas` tasks of `image` run (a created service or canary); the first failed task ends it. */
export async function followStart(f: Follow): Promise<StartEnd> {
  const until = f.clock.now() + f.deadlineMs;
  let last = '';
  for (;;) {
    const tasks = parseTasks(await f.manager.run(serviceTasks(f.name)));
    const running = runningOf(tasks, f.image);
    const line = `${running} of ${f.replicas} task(s) of ${f.name} run ${f.image}`;
    if (line !== last) f.report({ kind: 'step', message: line });
    last = line;
    if (running >= f.replicas) return { ok: true };
    const failed = taskError(tasks, f.image, f.gate);
    if (failed) return { ok: false, error: `${failed}${await failedTaskLogs(f.manager, tasks, f.image)}` };
    if (f.interrupt?.requested) return { interrupted: true };
    if (f.clock.now() > until) return { ok: false, error: `${line} after ${Math.round(f.deadlineMs / 1000)}s` };
    await f.clock.sleep(POLL_MS);
  }
}

export type UpdateEnd = { state: 'completed' | 'unchanged' } | { state: 'rolled-back' | 'paused' | 'timeout'; message: string } | { state: 'interrupted' };

/** Follows a rolling update from the moment it was asked for until Swarm says how it ended. */
export async function followUpdate(f: Follow, startedBefore: string | undefined): Promise<UpdateEnd> {
  const asked = f.clock.now();
  const until = asked + f.deadlineMs;
  let last = '';
  for (;;) {
    const [spec, tasks] = await Promise.all([
      f.manager.run(inspectService(f.name)).then(parseServiceSpec),
      f.manager.run(serviceTasks(f.name)).then(parseTasks),
    ]);
    if (!spec) throw new HostError(f.manager.name, `the service ${f.name} disappeared during the update`);
    const running = runningOf(tasks, f.image);
    const started = spec.updateStartedAt !== undefined && spec.updateStartedAt !== startedBefore;
    const state = started ? spec.updateState : undefined;
    const line = state === 'rollback_started' ? withDetail('Swarm is rolling back', spec.updateMessage) : `${running} of ${f.replicas} task(s) run ${f.image}`;
    if (line !== last) f.report({ kind: state === 'rollback_started' ? 'warning' : 'step', message: line });
    last = line;
    if (state === 'completed') return { state: 'completed' };
    if (state === 'rollback_completed') {
      const cause = taskError(tasks, f.image, f.gate);
      return {
        state: 'rolled-back',
        message: `${spec.updateMessage ?? 'rolled back'}${cause ? `; ${cause}${await failedTaskLogs(f.manager, tasks, f.image)}` : ''}`,
      };
    }
    if (state === 'paused' || state === 'rollback_paused') return { state: 'paused', message: `update ${state}: ${spec.updateMessage ?? ''}` };
    // Nothing to change (the spec was already this one): Swarm starts no update.
    if (!started && f.clock.now() - asked > UNCHANGED_AFTER_MS && spec.image === f.image && running >= f.replicas) return { state: 'unchanged' };
    if (f.interrupt?.requested) return { state: 'interrupted' };
    if (f.clock.now() > until)
      return {
        state: 'timeout',
        message: `the update did not end within ${Math.round(f.deadlineMs / 1000)}s (Swarm's update state: ${state ?? 'not started'}; ${line})`,
      };
    await f.clock.sleep(POLL_MS);
  }
}
