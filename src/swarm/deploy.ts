/**
 * `rollout` and `rollback` on a swarm, under the lock on the manager: the release chosen first (bad input changes
 * nothing), the network, env file and proxies prepared, then the update asked of Swarm and followed (rollout.ts).
 * Apart from backend.ts because this is the one change with decisions of its own (which release, a canary to abort)
 * and its own exit codes and plan text.
 */
import type Docker from 'dockerode';
import type { BackendEnv, DeployRequest } from '../backend/types.js';
import { withLock } from '../fleet/lock.js';
import { pickRelease, rollbackTarget } from '../fleet/releases.js';
import type { Clock } from '../util/clock.js';
import { ExitCode, InputError } from '../util/errors.js';
import { swarmNames } from './commands.js';
import { describeGate } from './health.js';
import { ensureSwarmProxy } from './proxy.js';
import { prepareManager, recordDeploy, removeCanary, type SwarmOutcome, swarmReleases, swarmRollout } from './rollout.js';
import type { SwarmSession } from './session.js';

const short = (t: string) => t.slice(0, 12);

/** No node can take a task: said the same way before `release` ships and before a change. */
export function noTargetError(session: SwarmSession, hint: string): InputError {
  const { config } = session;
  return new InputError(
    `no node of the swarm can run a task of ${config.service}: none is ready and matches swarm.constraints (${config.swarm!.constraints.join(', ') || 'none'})`,
    { hint },
  );
}

/** Runs a rollout or rollback on an open session; `step` shows progress (a plan passes one that only runs the work). */
export async function swarmDeploy(
  session: SwarmSession,
  req: DeployRequest,
  o: { step: BackendEnv['step']; docker: Docker; clock?: Clock },
): Promise<SwarmOutcome> {
  const { config, ctx } = session;
  const svc = config.service;
  return withLock(
    ctx,
    async (): Promise<SwarmOutcome> => {
      if (session.targets.length === 0)
        throw noTargetError(session, 'check the nodes (docker node ls) and the constraints against their labels (docker node inspect <node>)');
      const releases = await swarmReleases(session);
      let wanted = req.wanted;
      if (req.kind === 'rollback' && wanted === undefined) {
        const back = rollbackTarget(releases, releases.canary !== undefined);
        if (back.abortsCanary) {
          await o.step(`Abort the canary of ${svc}:${short(releases.canary!)}`, () => removeCanary(session));
          return { kind: 'done', target: back.target, action: 'canary-removed', seconds: 0 };
        }
        wanted = back.target;
      }
      const target = pickRelease(
        releases,
        wanted,
        session.targets.map((m) => m.ssh.name),
      );
      await o.step(`Prepare the swarm (${session.members.length} nodes)`, async () => {
        await prepareManager(session);
        await Promise.all(session.members.map((m) => ensureSwarmProxy(ctx, m.ssh, o.docker)));
      });
      // The health gate is read from a node that holds the release and may run a task: the manager if it may.
      const holder = session.targets.find((m) => m.ssh === session.manager)?.ssh ?? session.targets[0]?.ssh ?? session.manager;
      const title = `${req.kind === 'rollout' ? 'Roll out' : 'Roll back to'} ${svc}:${short(target)}${req.canary !== undefined ? ` (canary ${req.canary})` : ''} on the swarm`;
      const result = await o.step(
        title,
        () => swarmRollout(session, target, { kind: req.kind, canary: req.canary }, holder, o.clock),
        (r) =>
          r.kind === 'done'
            ? undefined
            : r.kind === 'interrupted'
              ? `${title}: interrupted`
              : `${title}: failed, ${r.kind === 'rolled-back' ? 'rolled back' : 'ROLLBACK FAILED'}`,
      );
      if (result.kind === 'done' && result.action !== 'canary') await recordDeploy(session, target, req.kind);
      return result;
    },
    (r) =>
      r.kind === 'done'
        ? r.action === 'canary'
          ? `canary: ${config.swarm!.replicas} + ${req.canary} task(s), ${r.target}`
          : r.action === 'canary-removed'
            ? 'canary removed'
            : `${req.kind} to ${r.target} complete`
        : r.kind === 'interrupted'
          ? `interrupted during the update to ${r.target}`
          : { outcome: r.kind, detail: r.error },
  );
}

/** 0 done; 1 rolled back cleanly (by Swarm, or the new service or canary removed); 2 neither; 130 interrupted. */
export function swarmExitCode(o: SwarmOutcome): number {
  if (o.kind === 'done') return ExitCode.ok;
  if (o.kind === 'interrupted') return ExitCode.interrupted;
  return o.kind === 'rolled-back' ? ExitCode.failed : ExitCode.needsAction;
}

/** The title and notes of a rollout or rollback plan, from the outcome of the planned run. */
export function deployPlanText(o: SwarmOutcome, req: DeployRequest, service: string): { title: string; notes: string[] } {
  if (o.kind === 'done' && o.action === 'canary-removed')
    return { title: `rollback ${service}: abort the canary (remove ${swarmNames.canary(service)}); ${short(o.target)} keeps serving`, notes: [] };
  const canary = req.canary !== undefined;
  const title = `${req.kind} ${service} to ${short(o.target)}${canary ? ` (canary ${req.canary})` : ''}, ${
    canary ? `${req.canary} task(s) in ${swarmNames.canary(service)} beside the service` : 'a rolling update by Swarm, one task at a time (start-first)'
  }`;
  const gate = 'gate' in o && o.gate ? [`Each new task is gated on ${describeGate(o.gate)}.`] : [];
  const created = o.kind === 'done' && o.action === 'created';
  const onFailure = canary
    ? "If a canary task fails, the canary service is removed; the service's own tasks never change."
    : created
      ? 'If a task of the new service fails, the service is removed again (nothing served before).'
      : 'If a new task fails its health check, Swarm puts the previous release back on every task (--update-failure-action rollback).';
  return { title, notes: [...gate, onFailure] };
}
