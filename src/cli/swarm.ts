/**
 * The commands with `backend: swarm` (src/swarm): each command file calls these when config.swarm is set. Same
 * shape as the per-host commands: the node check before anything else, the lock and audit log on the manager,
 * progress with listr2, the outcome told with the exit code and the next command to run.
 */
import type { Config, HostConfig } from '../config/types.js';
import type { ProxyMode } from '../proxy/caddy-config.js';
import { withLock } from '../fleet/lock.js';
import { pickRelease } from '../fleet/releases.js';
import { describeGate } from '../swarm/health.js';
import { describeNode } from '../swarm/nodes.js';
import { ensureSwarmProxy } from '../swarm/proxy.js';
import { prepareManager, recordDeploy, removeCanary, type SwarmOutcome, swarmReleases, swarmRollout } from '../swarm/rollout.js';
import { openSwarmSession, type SwarmSession } from '../swarm/session.js';
import { type CatchUpResult, catchUpReleases, releaseHosts, skippedMembers } from '../swarm/ship.js';
import { swarmStatus } from '../swarm/status.js';
import { swarmStatusText } from './render/swarm.js';
import { ExitCode, InputError, errorMessage } from '../util/errors.js';
import type { ProgressEvent } from '../util/events.js';
import { localDocker, type GlobalOptions } from './context.js';
import { commandLine, eventLine, withProgress } from './fleet-session.js';
import { INTERRUPTED_EXIT, onInterrupt } from './interrupt.js';
import { printJson } from './json-output.js';

const warn = (line: string) => process.stderr.write(`warning: ${line}\n`);
const stderrReport = (e: ProgressEvent) => {
  const line = eventLine(e);
  if (!line) return;
  if (e.kind === 'warning') warn(line);
  else process.stderr.write(`${line}\n`);
};

async function open(config: Config, globals: GlobalOptions, requireAll: boolean): Promise<SwarmSession> {
  const session = await openSwarmSession(config, { command: commandLine(), acceptNewHostKeys: globals.acceptNewHostKeys, requireAll, report: stderrReport });
  for (const w of session.warnings) warn(w);
  return session;
}

/**
 * Before `release` builds anything: the node check (a mismatch stops here, exit 2), the serving and previous
 * releases for nodes that lack them, and the hosts to ship the new release to (the nodes that may run a task).
 */
export async function prepareSwarmRelease(
  config: Config,
  globals: GlobalOptions,
  selected?: HostConfig[],
): Promise<{ hosts: HostConfig[]; catchUp: CatchUpResult[] }> {
  const session = await open(config, globals, false);
  try {
    for (const m of skippedMembers(session)) {
      process.stderr.write(
        `${m.ssh.name} (node ${describeNode(m.node)}) gets no release: no task of ${config.service} can run there (swarm.constraints: ${config.swarm!.constraints.join(', ') || 'none'})\n`,
      );
    }
    if (session.targets.length === 0) {
      throw new InputError(
        `no node of the swarm can run a task of ${config.service}: none is ready and matches swarm.constraints (${config.swarm!.constraints.join(', ') || 'none'})`,
        {
          hint: 'check the constraints against the nodes (docker node ls; docker node inspect <node> shows its labels)',
        },
      );
    }
    const catchUp = await catchUpReleases(session, await localDocker(), stderrReport);
    return { hosts: releaseHosts(session, selected), catchUp };
  } finally {
    session.close();
  }
}

export function printCatchUpProblems(results: CatchUpResult[]): number {
  const failed = results.filter((r) => !r.ok);
  for (const f of failed)
    process.stderr.write(
      `\nerror: ${f.error}\nhint: release it again from a checkout of that commit (git checkout ${f.tag.slice(0, 12)} && boxship release), then come back\n`,
    );
  return failed.length ? ExitCode.failed : ExitCode.ok;
}

export interface SwarmDeployRequest {
  kind: 'rollout' | 'rollback';
  /** The release to move to (a prefix is enough); default: newest (rollout) or previous (rollback). */
  wanted?: string;
  canary?: number;
  plan?: boolean;
}

const short = (t: string) => t.slice(0, 12);

/** `rollout`, `rollback` (and the rollout half of `deploy`): returns the exit code. */
export async function swarmDeploy(globals: GlobalOptions, config: Config, req: SwarmDeployRequest): Promise<{ code: number; outcome?: SwarmOutcome }> {
  if (req.plan)
    throw new InputError('--plan is not available with backend: swarm yet', {
      hint: 'run the command without --plan; boxship status shows the service and its tasks',
    });
  const interrupt = { requested: false };
  const stop = onInterrupt(() => (interrupt.requested = true));
  const session = await open(config, globals, true);
  session.ctx.interrupt = interrupt;
  const docker = await localDocker();
  try {
    const ctx = session.ctx;
    const outcome = await withLock(
      ctx,
      async (): Promise<SwarmOutcome> => {
        if (session.targets.length === 0) {
          throw new InputError(
            `no node of the swarm can run a task of ${config.service}: none is ready and matches swarm.constraints (${config.swarm!.constraints.join(', ') || 'none'})`,
            {
              hint: 'check the nodes (docker node ls) and the constraints against their labels (docker node inspect <node>)',
            },
          );
        }
        const releases = await swarmReleases(session);
        const hosts = session.targets.map((m) => m.ssh.name);
        if (req.kind === 'rollback' && req.wanted === undefined && releases.canary !== undefined) {
          await withProgress(`Abort the canary of ${config.service}:${short(releases.canary)}`, ctx, () => removeCanary(session));
          return { kind: 'done', target: releases.current ?? releases.canary, action: 'canary-removed', seconds: 0 };
        }
        let wanted = req.wanted;
        if (req.kind === 'rollback' && wanted === undefined) {
          if (!releases.previous)
            throw new InputError('there is no previous release to roll back to', {
              hint: 'boxship rollback works once a second release has been rolled out; see: boxship releases',
            });
          wanted = releases.previous;
        }
        const target = pickRelease(releases, wanted, hosts);
        await withProgress(`Prepare the swarm (${session.members.length} nodes)`, ctx, async () => {
          await prepareManager(session);
          await Promise.all(session.members.map((m) => ensureSwarmProxy(ctx, m.ssh, docker)));
        });
        const holder = session.targets.find((m) => m.ssh === session.manager)?.ssh ?? session.targets[0]?.ssh ?? session.manager;
        const title = `${req.kind === 'rollout' ? 'Roll out' : 'Roll back to'} ${config.service}:${short(target)}${req.canary !== undefined ? ` (canary ${req.canary})` : ''} on the swarm`;
        const result = await withProgress(
          title,
          ctx,
          () => swarmRollout(session, target, { kind: req.kind, canary: req.canary }, holder),
          (o) =>
            o.kind === 'done'
              ? undefined
              : o.kind === 'interrupted'
                ? `${title}: interrupted`
                : `${title}: failed, ${o.kind === 'rolled-back' ? 'rolled back' : 'ROLLBACK FAILED'}`,
        );
        if (result.kind === 'done' && result.action !== 'canary') await recordDeploy(session, target, req.kind);
        return result;
      },
      (o) =>
        o.kind === 'done'
          ? o.action === 'canary'
            ? `canary: ${config.swarm!.replicas} + ${req.canary} task(s), ${o.target}`
            : o.action === 'canary-removed'
              ? 'canary removed'
              : `${req.kind} to ${o.target} complete`
          : o.kind === 'interrupted'
            ? `interrupted during the update to ${o.target}`
            : { outcome: o.kind, detail: o.error },
    );
    return { code: reportSwarmOutcome(outcome, config, req), outcome };
  } finally {
    session.close();
    stop();
  }
}

function reportSwarmOutcome(o: SwarmOutcome, config: Config, req: SwarmDeployRequest): number {
  const svc = config.service;
  const replicas = config.swarm!.replicas;
  if (o.kind === 'done') {
    if (o.action === 'canary') {
      process.stdout.write(
        `\nCanary: ${req.canary} task(s) of ${svc}:${short(o.target)} run beside the ${replicas} of the service, behind the same proxies.\nTo promote, run: boxship rollout --sha ${short(o.target)}\nTo abort, run: boxship rollback\n`,
      );
    } else if (o.action === 'canary-removed') {
      process.stdout.write(`\nCanary aborted: its service was removed; ${svc}:${short(o.target)} serves on all ${replicas} task(s).\n`);
    } else if (o.action === 'unchanged') {
      process.stdout.write(`\n${svc}:${short(o.target)} already serves on all ${replicas} task(s); nothing changed.\n`);
    } else {
      process.stdout.write(
        `\n${svc}:${short(o.target)} serves on all ${replicas} task(s) (${o.action === 'created' ? 'service created' : 'rolling update'} in ${o.seconds.toFixed(1)}s, gated on ${o.gate ? describeGate(o.gate) : 'health'}).\nTo undo, run: boxship rollback\n`,
      );
    }
    return ExitCode.ok;
  }
  if (o.kind === 'interrupted') {
    process.stderr.write(
      `\nInterrupted: boxship stopped following the update to ${short(o.target)}; Swarm carries on with it by itself (and rolls it back if a task fails).\nTo see where it is, run: boxship status\n`,
    );
    return INTERRUPTED_EXIT;
  }
  if (o.kind === 'rolled-back') {
    process.stderr.write(`\nerror: ${o.error}\n`);
    if (o.canary) process.stderr.write(`\nThe canary failed and was removed; the service's own tasks never changed.\n`);
    else if (o.created) process.stderr.write(`\nThe new service failed and was removed again: nothing served before, nothing serves now.\n`);
    else process.stderr.write(`\nRolled back: Swarm put the previous release back on every task (--update-failure-action rollback). Nothing else changed.\n`);
    process.stderr.write('hint: look at the output above, fix the release, then run: boxship release && boxship rollout\n');
    return ExitCode.failed;
  }
  process.stderr.write(`\nerror: ${o.error}\n\nThe update neither completed nor rolled back cleanly.\n`);
  process.stderr.write(
    `What to do next: run \`boxship status\` (and \`docker service ps ${svc}\` on the manager) to see what serves; fix the node or release named above; then run \`boxship rollback --to <the release that served before>\`.\n`,
  );
  return ExitCode.needsAction;
}

/** `setup`: the overlay network, the env file, the proxy on every node, the serving and previous releases on new nodes. */
export async function swarmSetup(globals: GlobalOptions, config: Config): Promise<number> {
  const session = await open(config, globals, true);
  const docker = await localDocker();
  try {
    const ctx = session.ctx;
    let catchUp: CatchUpResult[] = [];
    await withLock(
      ctx,
      () =>
        withProgress(`Set up the swarm (${session.members.length} nodes)`, ctx, async () => {
          await prepareManager(session);
          await Promise.all(session.members.map((m) => ensureSwarmProxy(ctx, m.ssh, docker)));
          catchUp = await catchUpReleases(session, docker, ctx.report);
        }),
      () => 'setup done',
    );
    const code = printCatchUpProblems(catchUp);
    process.stdout.write(`\n${session.members.length} nodes are ready (overlay network, proxy on each). Next: boxship release, then boxship rollout.\n`);
    return code;
  } finally {
    session.close();
  }
}

/** `maintenance on|off` on every node's proxy. */
export async function swarmMaintenance(globals: GlobalOptions, config: Config, mode: ProxyMode, plan: boolean | undefined): Promise<void> {
  if (plan) throw new InputError('--plan is not available with backend: swarm yet');
  const session = await open(config, globals, true);
  const docker = await localDocker();
  try {
    const ctx = session.ctx;
    const state = mode.kind === 'serving' ? 'off' : 'on';
    await withLock(
      ctx,
      () =>
        withProgress(`Maintenance ${state} on ${session.members.length} nodes`, ctx, () =>
          Promise.all(session.members.map((m) => ensureSwarmProxy(ctx, m.ssh, docker, mode))),
        ),
      () => `maintenance ${state}`,
    );
    if (mode.kind === 'maintenance')
      process.stdout.write(
        `\nMaintenance is on on every node: every request gets 503 with Retry-After: ${mode.retryAfterSeconds}.\nTo undo, run: boxship maintenance off\n`,
      );
    else process.stdout.write('\nMaintenance is off: the proxies serve the tasks again.\nTo undo, run: boxship maintenance on\n');
  } finally {
    session.close();
  }
}

export async function swarmStatusCommand(globals: GlobalOptions, config: Config, json: boolean): Promise<number> {
  const session = await open(config, globals, false);
  try {
    const s = await swarmStatus(session);
    if (json) printJson(s);
    else process.stdout.write(swarmStatusText(s));
    return s.unreachable.length ? ExitCode.failed : ExitCode.ok;
  } catch (err) {
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    return ExitCode.failed;
  } finally {
    session.close();
  }
}

/** Commands of the per-host backend that have no Swarm counterpart yet. */
export function notOnSwarm(config: Config, what: string, instead: string): void {
  if (config.swarm) throw new InputError(`${what} is not available with backend: swarm yet`, { hint: instead });
}
