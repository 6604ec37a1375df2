/**
 * The Swarm backend (`backend: swarm`): every command that changes something opens the swarm (the node check), takes
 * the lock on the manager and reports through the BackendEnv; nothing here prints. With `plan` the same code runs
 * against dry-run runners standing in for every host (reads run, writes are recorded) and the recorded steps are
 * the result. The rollout itself is in deploy.ts and rollout.ts.
 */
import type { Backend, BackendEnv, DeployResult, LockReleaseResult, MaintenanceResult, ReleaseTargets, SetupResult } from '../backend/types.js';
import { planned, type Plan } from '../backend/plan.js';
import { NotOnBackendError } from '../backend/unsupported.js';
import type { Config } from '../config/types.js';
import { withLock } from '../fleet/lock.js';
import type { Runner } from '../hosts/runner.js';
import { releaseLocks } from '../fleet/lock-release.js';
import { whoAmI } from '../state/ledger.js';
import { stateDir } from '../state/paths.js';
import { type Clock, systemClock } from '../util/clock.js';
import { BoxshipError, ExitCode } from '../util/errors.js';
import { deployPlanText, noTargetError, swarmDeploy, swarmExitCode } from './deploy.js';
import { describeNode } from './nodes.js';
import { ensureSwarmProxy } from './proxy.js';
import { prepareManager } from './rollout.js';
import { type ConnectHosts, connectOverSsh, openSwarmSession, type SwarmSession } from './session.js';
import { type CatchUpResult, catchUpReleases, releaseHosts, skippedMembers } from './ship.js';
import { swarmStatus } from './status.js';

/** What a unit test replaces: how hosts are reached, and time. */
interface SwarmDeps {
  connect: ConnectHosts;
  clock: Clock;
}

/** Dry runners for a plan, made when the session connects, and the plan they recorded. */
function recorder() {
  let rec: ReturnType<typeof planned> | undefined;
  return {
    wrap: (runners: Runner[]) => {
      rec = planned(runners);
      return rec.runners;
    },
    plan: (title: string, notes?: string[]): Plan => rec!.plan(title, notes),
  };
}

const caughtUpCode = (results: CatchUpResult[]) => (results.some((r) => !r.ok) ? ExitCode.failed : ExitCode.ok);

export function swarmBackend(config: Config, env: BackendEnv, deps: Partial<SwarmDeps> = {}): Backend {
  const connect = deps.connect ?? connectOverSsh;
  const clock = deps.clock ?? systemClock;
  const svc = config.service;

  /** Opens the swarm, runs `work`, always closes. A plan shows no progress and keeps only the warnings. */
  async function onSwarm<T>(
    requireAll: boolean,
    work: (s: SwarmSession, step: BackendEnv['step']) => Promise<T>,
    plan?: ReturnType<typeof recorder>,
  ): Promise<T> {
    const report: BackendEnv['report'] = plan
      ? (e) => {
          if (e.kind === 'warning') env.report(e);
        }
      : env.report;
    const s = await openSwarmSession(config, {
      command: env.commandLine,
      acceptNewHostKeys: env.acceptNewHostKeys,
      requireAll,
      report,
      connect,
      wrap: plan?.wrap,
    });
    if (!plan) s.ctx.interrupt = env.interrupt;
    for (const w of s.warnings) env.report({ kind: 'warning', message: w });
    const step: BackendEnv['step'] = plan ? (_title, work) => work() : (title, w, failed) => env.step(title, w, failed);
    try {
      return await work(s, step);
    } finally {
      s.close();
    }
  }

  return {
    kind: 'swarm',

    releaseTargets: (selected) =>
      onSwarm(false, async (s): Promise<ReleaseTargets> => {
        const why = `no task of ${svc} can run there (swarm.constraints: ${config.swarm!.constraints.join(', ') || 'none'})`;
        const skipped = skippedMembers(s).map((m) => ({ host: m.ssh.name, node: describeNode(m.node), why }));
        if (s.targets.length === 0) {
          // The error ends the command before a result is rendered: the nodes it skipped are said on the way.
          for (const k of skipped) env.report({ kind: 'step', message: `${k.host} (node ${k.node}) gets no release: ${k.why}` });
          throw noTargetError(s, 'check the constraints against the nodes (docker node ls; docker node inspect <node> shows its labels)');
        }
        const caughtUp = await catchUpReleases(s, await env.docker(), s.ctx.report);
        return { hosts: releaseHosts(s, selected), skipped, caughtUp, exitCode: caughtUpCode(caughtUp) };
      }),

    setup: (req) => {
      const rec = req.plan ? recorder() : undefined;
      return onSwarm(
        true,
        async (s, step): Promise<SetupResult> => {
          const docker = await env.docker();
          let caughtUp: CatchUpResult[] = [];
          await withLock(
            s.ctx,
            () =>
              step(`Set up the swarm (${s.members.length} nodes)`, async () => {
                await prepareManager(s);
                await Promise.all(s.members.map((m) => ensureSwarmProxy(s.ctx, m.ssh, docker)));
                caughtUp = await catchUpReleases(s, docker, s.ctx.report);
              }),
            () => 'setup done',
          );
          if (rec)
            return { backend: 'plan', plan: rec.plan(`setup of the swarm (${s.members.length} nodes): overlay network, env file, proxy on each`), exitCode: 0 };
          return { backend: 'swarm', hosts: s.members.length, caughtUp, exitCode: caughtUpCode(caughtUp) };
        },
        rec,
      );
    },

    deploy: (req) => {
      const rec = req.plan ? recorder() : undefined;
      return onSwarm(
        true,
        async (s, step): Promise<DeployResult> => {
          const outcome = await swarmDeploy(s, req, { step, docker: await env.docker(), clock });
          if (rec) {
            const { title, notes } = deployPlanText(outcome, req, svc);
            return { backend: 'plan', plan: rec.plan(title, notes), exitCode: 0 };
          }
          const replicas = config.swarm!.replicas;
          return {
            backend: 'swarm',
            service: svc,
            kind: req.kind,
            outcome,
            replicas,
            ...(req.canary !== undefined ? { canary: req.canary } : {}),
            exitCode: swarmExitCode(outcome),
          };
        },
        rec,
      );
    },

    maintenance: (req) => {
      const rec = req.plan ? recorder() : undefined;
      const state = req.mode.kind === 'serving' ? 'off' : 'on';
      return onSwarm(
        true,
        async (s, step): Promise<MaintenanceResult> => {
          const docker = await env.docker();
          await withLock(
            s.ctx,
            () =>
              step(`Maintenance ${state} on ${s.members.length} nodes`, () =>
                Promise.all(s.members.map((m) => ensureSwarmProxy(s.ctx, m.ssh, docker, req.mode))),
              ),
            () => `maintenance ${state}`,
          );
          if (rec) return { backend: 'plan', plan: rec.plan(`maintenance ${state} on ${s.members.length} nodes`), exitCode: 0 };
          return { backend: 'swarm', mode: req.mode, hosts: s.members.length, exitCode: ExitCode.ok };
        },
        rec,
      );
    },

    status: () =>
      onSwarm(false, async (s) => {
        const status = await swarmStatus(s);
        return { backend: 'swarm', status, exitCode: status.unreachable.length ? ExitCode.failed : ExitCode.ok };
      }),

    releaseLock: (req = {}) => releaseManagerLock(config, env, connect, req.force === true),

    logs: () => Promise.reject(new NotOnBackendError('boxship logs', 'swarm', `on the manager, run: docker service logs --timestamps ${svc}`)),
    exec: () =>
      Promise.reject(
        new NotOnBackendError(
          'boxship exec',
          'swarm',
          `on a node, run: docker exec -it <a task container of ${svc}> … (boxship status lists the tasks per node)`,
        ),
      ),
    accessory: () =>
      Promise.reject(
        new NotOnBackendError(
          'boxship accessory',
          'swarm',
          `run it as a Swarm service of its own on the manager (docker service create …); boxship.yml's accessories: are per-host only`,
        ),
      ),
    remove: () =>
      Promise.reject(
        new NotOnBackendError(
          'boxship remove',
          'swarm',
          `on the manager, run: docker service rm ${svc}; on each node: docker rm -f ${svc}-proxy; then remove ~/.boxship/${svc} on the nodes`,
        ),
      ),
  };
}

/**
 * The lock of a swarm lives on the manager only, so only the manager is reached (no node check: a lock left by a
 * dead run must be removable while the swarm's nodes and hosts disagree).
 */
async function releaseManagerLock(config: Config, env: BackendEnv, connect: ConnectHosts, force: boolean): Promise<LockReleaseResult> {
  const host = config.hosts.find((h) => h.name === config.swarm!.manager)!;
  const { links, close } = await connect([host], env.acceptNewHostKeys);
  try {
    const link = links[0]!;
    if (!link.runner)
      throw new BoxshipError(`cannot reach the swarm manager ${host.name}; nothing was changed: ${link.error}`, {
        hint: 'check the host, then run the command again',
      });
    const r = await releaseLocks([link.runner], stateDir(config.service), { who: whoAmI(), command: env.commandLine }, force);
    return { ...r, exitCode: r.refused.length ? ExitCode.needsAction : ExitCode.ok };
  } finally {
    close();
  }
}
