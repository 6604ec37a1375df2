/**
 * Rollout, rollback and canary on a Docker Swarm. boxship does not move tasks itself: it makes sure every node that
 * may run a task holds the release (shipped by `release`, see ship.ts), then asks Swarm for a rolling update of the
 * service to `<service>:<sha>` without a registry lookup (`--no-resolve-image`): one task at a time, start-first,
 * each new task gated on its health check (health.ts), and `--update-failure-action rollback`, so a failing release
 * is put back by Swarm itself. boxship follows the update until Swarm says how it ended and turns that into its exit
 * codes: completed (0), rolled back (1), rollback paused or stuck (2).
 *
 * A first rollout creates the service; if its tasks fail, the service is removed again (nothing served before).
 * A canary is a second service, `<service>-canary`, with N tasks of the new release under the same upstream alias,
 * so the proxies spread requests over both; `rollout` promotes (updates the service, then removes the canary),
 * `rollback` aborts (removes the canary).
 */
import type { Config } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import { currentAndPrevious, parseDeploys, readDeploys, appendDeploy } from '../state/deploys.js';
import { stateDir } from '../state/paths.js';
import { releasesOnHost } from '../ship/present.js';
import { type FleetReleases, presentOnEvery } from '../fleet/releases.js';
import { envFilePath } from '../rollout/instance-commands.js';
import { envFileText, writePrivateFile } from '../rollout/setup.js';
import { InputError, errorMessage } from '../util/errors.js';
import { type Clock, systemClock } from '../util/clock.js';
import { command } from '../hosts/command.js';
import { ensureOverlayNetwork, imageHealthcheckOf, inspectService, probeTools, removeService, swarmNames } from './commands.js';
import { followStart, followUpdate, type UpdateEnd } from './follow.js';
import { createService, type CurrentSpec, parseServiceSpec, type ServiceSpec, updateService } from './service-spec.js';
import { chooseGate, describeGate, type HealthGate, healthFlags, imageHealthcheck, monitorSeconds } from './health.js';
import type { Member, SwarmSession } from './session.js';

export type SwarmOutcome =
  | { kind: 'done'; target: string; action: 'created' | 'updated' | 'unchanged' | 'canary' | 'canary-removed'; gate?: HealthGate; seconds: number }
  | { kind: 'rolled-back'; target: string; error: string; gate?: HealthGate; created: boolean; canary: boolean }
  | { kind: 'rollback-failed'; target: string; error: string; gate?: HealthGate }
  | { kind: 'interrupted'; target: string };

export interface SwarmRequest {
  kind: 'rollout' | 'rollback';
  /** N tasks of the target in a canary service beside the service's. */
  canary?: number;
}

/** The releases present on every node that must hold them, and what served (the manager's deploy history). */
export async function swarmReleases(session: SwarmSession): Promise<FleetReleases & { canary?: string }> {
  const { config, manager } = session;
  const holders = session.targets.length ? session.targets : [{ ssh: manager } as Member];
  const [perNode, deploys, canary] = await Promise.all([
    Promise.all(holders.map((m) => releasesOnHost(m.ssh, config.service).then((r) => r.filter((e) => e.present)))),
    manager.run(readDeploys(stateDir(config.service))).then(parseDeploys),
    manager.run(inspectService(swarmNames.canary(config.service))).then(parseServiceSpec),
  ]);
  const everywhere = presentOnEvery(perNode);
  const tagOf = (image: string) => image.slice(config.service.length + 1);
  return { everywhere, ...currentAndPrevious(deploys), ...(canary ? { canary: tagOf(canary.image) } : {}) };
}

/**
 * What every command that changes the service needs first: the overlay network and the env file on the manager,
 * the proxy on every node (ensureSwarmProxy, passed in to keep this module free of the proxy's image shipping).
 */
export async function prepareManager(session: SwarmSession): Promise<void> {
  const { config, manager } = session;
  const text = envFileText(config);
  const steering = envKeysOf(text).filter((k) => k.startsWith('DOCKER_'));
  if (steering.length) {
    throw new InputError(`with backend: swarm, ${steering.join(', ')} cannot be an env variable of the app`, {
      hint: 'the docker CLI that updates the service takes the values from its own environment (so that no value is in a command line on the manager), where DOCKER_* would steer the CLI itself: rename it in app.env or the secrets file',
    });
  }
  const rel = stateDir(config.service);
  const home = await manager.home();
  await manager.run(ensureOverlayNetwork(swarmNames.network(config.service)));
  await manager.run(command('write', 'create the state dir', 'mkdir', '-p', `${home}/${rel}`));
  await manager.run(writePrivateFile(envFilePath(`${home}/${rel}`), 'write the app env file (mode 0600)'), text);
}

/** Which health check gates the update, from what the image on a node that holds it offers. */
async function decideGate(config: Config, holder: Runner, image: string): Promise<HealthGate> {
  const own = imageHealthcheck(await holder.run(imageHealthcheckOf(image)));
  if (own) return chooseGate(own, undefined, config.healthcheck);
  const tools = await holder.exec(probeTools(image), { allowFailure: true, timeoutMs: 60_000 });
  return chooseGate(undefined, tools.code === 0 ? tools.stdout : undefined, config.healthcheck);
}

const envKeys = (config: Config) => envKeysOf(envFileText(config));

function envKeysOf(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => l.slice(0, l.indexOf('=')));
}

function serviceSpec(config: Config, name: string, tag: string, replicas: number, gate: HealthGate, home: string): ServiceSpec {
  const h = config.healthcheck;
  return {
    name,
    service: config.service,
    image: `${config.service}:${tag}`,
    tag,
    replicas,
    constraints: config.swarm!.constraints,
    health: healthFlags(gate, h),
    monitorSeconds: monitorSeconds(gate, h),
    stopGraceSeconds: Math.ceil(config.app.drainSeconds + config.app.stopTimeoutSeconds),
    ...(config.app.stopSignal ? { stopSignal: config.app.stopSignal } : {}),
    mounts: config.app.volumes.map((v) => ({ source: `${home}/${stateDir(config.service)}/volumes/${v.name}`, target: v.path, readOnly: v.readOnly })),
  };
}

/** Seconds one task may take to be replaced: start and health budget, the monitor window, the old one's stop. */
function taskBudgetSeconds(config: Config, gate: HealthGate): number {
  const h = config.healthcheck;
  return Math.ceil((h.retries * h.intervalMs + h.timeoutMs) / 1000) + monitorSeconds(gate, h) + config.app.drainSeconds + config.app.stopTimeoutSeconds + 15;
}

/**
 * Puts `target` into service (or, with req.canary, beside it). Call under the manager's lock, after
 * prepareManager and with every proxy up. The release must be on every node that may run a task (the caller checks).
 * In a plan (a dry-run manager) nothing was asked of Swarm, so nothing is followed: the plan is that of a run in
 * which Swarm does what it was asked.
 */
export async function swarmRollout(
  session: SwarmSession,
  target: string,
  req: SwarmRequest,
  gateHolder: Runner,
  clock: Clock = systemClock,
): Promise<SwarmOutcome> {
  const { config, manager } = session;
  const report = session.ctx.report;
  const interrupt = session.ctx.interrupt;
  const t0 = clock.now();
  const image = `${config.service}:${target}`;
  const home = await manager.home();
  const envFile = envFilePath(`${home}/${stateDir(config.service)}`);
  const gate = await decideGate(config, gateHolder, image);
  report({ kind: gate.kind === 'running' ? 'warning' : 'step', message: `each new task is gated on ${describeGate(gate)}` });
  const replicas = config.swarm!.replicas;
  const budget = taskBudgetSeconds(config, gate) * 1000;
  const canaryName = swarmNames.canary(config.service);
  const [current, canary] = await Promise.all([
    manager.run(inspectService(config.service)).then(parseServiceSpec),
    manager.run(inspectService(canaryName)).then(parseServiceSpec),
  ]);
  const seconds = () => (clock.now() - t0) / 1000;
  const follow = { manager, image, report, clock, interrupt, gate };
  const started = (name: string, n: number) =>
    manager.dryRun ? Promise.resolve({ ok: true as const }) : followStart({ ...follow, name, replicas: n, deadlineMs: n * budget + 60_000 });

  if (req.canary !== undefined) {
    if (!current)
      throw new InputError(`nothing serves ${config.service} yet: a canary runs beside the service`, { hint: 'run boxship rollout (without --canary) first' });
    const spec = serviceSpec(config, canaryName, target, req.canary, gate, home);
    report({ kind: 'step', message: `${canary ? 'updating' : 'starting'} the canary ${canaryName}: ${req.canary} task(s) of ${image}` });
    if (canary) await manager.run(command('write', 'remove the old canary', 'docker', 'service', 'rm', canaryName));
    await manager.run(createService(spec, envFile));
    const r = await started(canaryName, req.canary);
    if ('interrupted' in r) return { kind: 'interrupted', target };
    if (!r.ok) {
      await manager.run(removeService(canaryName));
      return { kind: 'rolled-back', target, error: r.error, gate, created: false, canary: true };
    }
    return { kind: 'done', target, action: 'canary', gate, seconds: seconds() };
  }

  if (!current) {
    report({ kind: 'step', message: `creating the service ${config.service}: ${replicas} task(s) of ${image}` });
    await manager.run(createService(serviceSpec(config, config.service, target, replicas, gate, home), envFile));
    const r = await started(config.service, replicas);
    if ('interrupted' in r) return { kind: 'interrupted', target };
    if (!r.ok) {
      await manager.run(removeService(config.service));
      return { kind: 'rolled-back', target, error: r.error, gate, created: true, canary: false };
    }
    return { kind: 'done', target, action: 'created', gate, seconds: seconds() };
  }

  const spec = serviceSpec(config, config.service, target, replicas, gate, home);
  const before = parseServiceSpec(await manager.run(inspectService(config.service)))?.updateStartedAt;
  report({ kind: 'step', message: `rolling update of ${config.service} to ${image}, one task at a time (start-first)` });
  await manager.run(updateService(spec, current satisfies CurrentSpec, envFile, envKeys(config)));
  const end: UpdateEnd = manager.dryRun
    ? { state: 'completed' }
    : await followUpdate({ ...follow, name: config.service, replicas, deadlineMs: 2 * Math.max(replicas, current.replicas) * budget + 60_000 }, before);
  // A canary has done its job once the service runs its release (or failed with it): it goes either way.
  if (canary && end.state !== 'interrupted') {
    report({ kind: 'step', message: `removing the canary ${canaryName}` });
    await manager.run(removeService(canaryName));
  }
  switch (end.state) {
    case 'completed':
    case 'unchanged':
      return { kind: 'done', target, action: end.state === 'completed' ? 'updated' : 'unchanged', gate, seconds: seconds() };
    case 'rolled-back':
      return { kind: 'rolled-back', target, error: end.message, gate, created: false, canary: false };
    case 'interrupted':
      return { kind: 'interrupted', target };
    default:
      return { kind: 'rollback-failed', target, error: end.message, gate };
  }
}

/** Aborts a canary: removes the canary service; the service's own tasks never changed. */
export async function removeCanary(session: SwarmSession): Promise<void> {
  await session.manager.run(removeService(swarmNames.canary(session.config.service)));
}

/** After a complete rollout or rollback: the manager's history says what serves; every node keeps a copy for pruning. */
export async function recordDeploy(session: SwarmSession, target: string, kind: 'rollout' | 'rollback'): Promise<void> {
  const entry = { tag: target, time: new Date().toISOString(), who: session.ctx.who, kind };
  const rel = stateDir(session.config.service);
  const hosts = new Map<string, Runner>([[session.manager.name, session.manager], ...session.members.map((m) => [m.ssh.name, m.ssh] as [string, Runner])]);
  await Promise.all(
    [...hosts.values()].map((h) =>
      h
        .run(appendDeploy(rel, entry))
        .catch((err: Error) => session.ctx.report({ kind: 'warning', host: h.name, message: `could not record the deploy: ${errorMessage(err)}` })),
    ),
  );
}
