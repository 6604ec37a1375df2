/**
 * Accessories on a host: long-lived companions of the app (a database, a cache) that a rollout never swaps. `setup`,
 * `rollout` and `deploy` start the ones that are missing (ensureAccessories) and leave running ones alone;
 * `boxship accessory up|down|restart` manage one of them. Their images come from the deployer's engine and travel
 * layer-thin like releases (shipSupportImage); they are not releases, so pruning never removes them.
 */
import type Docker from 'dockerode';
import { privatePublish } from '../config/accessory-reach.js';
import { readSecretsFile } from '../config/secrets.js';
import type { AccessoryConfig, Config } from '../config/types.js';
import type { Runner } from '../hosts/runner.js';
import { absState, type DeployContext, relState } from '../fleet/context.js';
import { ensureDocker, parseDockerProbe, probeDocker } from '../rollout/docker-install.js';
import { names } from '../fleet/names.js';
import { ensureNetwork, writePrivateFile } from '../rollout/setup.js';
import { shipSupportImage } from '../ship/ship-image.js';
import { HostError, InputError } from '../util/errors.js';
import {
  accessoryDataDir,
  accessoryEnvFile,
  accessoryEnvText,
  accessorySpec,
  type AccessoryState,
  createAccessory,
  dropOldAccessory,
  hostImageId,
  inspectAccessory,
  makeAccessoryDirs,
  parseAccessoryState,
  removeAccessoryContainer,
  removeAccessoryFiles,
  restartAccessory,
  restoreOldAccessory,
  runAccessory,
  startAccessory,
  swapAccessory,
  waitListening,
} from './commands.js';
import { withDetail } from '../util/sentence.js';

/** What happened to an accessory on a host. */
type AccessoryAction = 'created' | 'recreated' | 'started' | 'unchanged' | 'restarted' | 'removed' | 'absent';

export interface AccessoryResult {
  accessory: string;
  host: string;
  action: AccessoryAction;
  /** down: whether its data folders were removed (--remove-data). */
  dataRemoved?: boolean;
}

/** The accessories configured on a host, in the order of boxship.yml. */
export function accessoriesOn(config: Config, host: string): AccessoryConfig[] {
  return (config.accessories ?? []).filter((a) => a.hosts.includes(host));
}

/** The accessory called `name`, or bad input naming the ones there are. */
export function findAccessory(config: Config, name: string): AccessoryConfig {
  const all = config.accessories ?? [];
  const found = all.find((a) => a.name === name);
  if (found) return found;
  throw new InputError(`no accessory ${JSON.stringify(name)} in ${config.file}`, {
    hint: all.length ? `accessories are: ${all.map((a) => a.name).join(', ')}` : 'add one under accessories: (see README "Accessories")',
  });
}

function envText(a: AccessoryConfig): string {
  return accessoryEnvText(a.env, a.secretsFile ? readSecretsFile(a.secretsFile) : {});
}

/** The host's private address when the hosts without the accessory reach it here (its port is published there). */
function reachOf(ctx: DeployContext, ssh: Runner, a: AccessoryConfig): string | undefined {
  return privatePublish(ctx.config, a, ssh.name);
}

/** The spec label the accessory should have on this host. */
function specOn(ctx: DeployContext, ssh: Runner, a: AccessoryConfig, text: string): string {
  return accessorySpec(a, text, reachOf(ctx, ssh, a));
}

/** Folders, network and env file (0600, its text on stdin: no value in an argv). */
async function prepare(ctx: DeployContext, ssh: Runner, a: AccessoryConfig, text: string): Promise<void> {
  const rel = relState(ctx);
  await Promise.all([ssh.run(ensureNetwork(ctx.config.service)), ssh.run(makeAccessoryDirs(rel, a))]);
  await ssh.run(writePrivateFile(accessoryEnvFile(rel, a.name), `write the env file of accessory ${a.name} (mode 0600)`), text);
}

/**
 * The accessory's image on the host: shipped from this machine's engine (layer-thin, only what the host lacks; a
 * no-op when it has it). An image this machine lacks is used from the host if the host has it; else bad input.
 */
async function ensureImage(ctx: DeployContext, ssh: Runner, docker: Docker, a: AccessoryConfig): Promise<void> {
  const local = await docker
    .getImage(a.image)
    .inspect()
    .catch(() => undefined);
  if (local) {
    if (ssh.dryRun) return ssh.note(`ship the image ${a.image} of accessory ${a.name} from here (layer-thin, only the layers the host lacks)`);
    ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: shipping ${a.image}` });
    await shipSupportImage({ config: ctx.config, docker, ref: a.image, imageId: local.Id, ssh, report: ctx.report });
    return;
  }
  if ((await ssh.exec(hostImageId(a.image), { allowFailure: true })).code === 0) {
    ctx.report({ kind: 'warning', host: ssh.name, message: `accessory ${a.name}: ${a.image} is not in the Docker engine here; using the one the host has` });
    return;
  }
  throw new InputError(`accessory ${a.name}: the image ${a.image} is neither in the Docker engine here nor on ${ssh.name}`, {
    hint: `build or load it here (docker build -t ${a.image} ..., docker pull ${a.image}, docker load), then run the command again; boxship ships it (hosts never pull)`,
  });
}

/** Runs the container and, with a port, waits until it listens there. */
async function create(ctx: DeployContext, ssh: Runner, a: AccessoryConfig, spec: string): Promise<void> {
  const abs = await absState(ctx, ssh);
  await ssh.run(runAccessory(ctx.config.service, a, abs, spec, reachOf(ctx, ssh, a)));
  await waitReady(ctx, ssh, a);
}

/**
 * Another container on the same data: the new one is created first (the old one runs on if that fails), then the old
 * one is stopped and set aside while the new one starts; if the new one does not start or listen, the old one is put
 * back and started again, so a bad change never leaves the accessory down.
 */
async function recreate(ctx: DeployContext, ssh: Runner, a: AccessoryConfig, spec: string): Promise<void> {
  const service = ctx.config.service;
  const created = await ssh.exec(createAccessory(service, a, await absState(ctx, ssh), spec, reachOf(ctx, ssh, a)), { allowFailure: true });
  if (created.code !== 0) {
    throw new HostError(
      ssh.name,
      `accessory ${a.name}: cannot create its new container (${a.image}): ${created.stderr.trim() || `exit ${created.code}`}; the old one runs on`,
      {
        hint: `fix boxship.yml (image, cmd, env, volumes) and run: boxship accessory up ${a.name}`,
      },
    );
  }
  const swapped = await ssh.exec(swapAccessory(service, a), { allowFailure: true });
  const failure = swapped.code !== 0 ? swapped.stderr.trim() || `exit ${swapped.code}` : await notReady(ctx, ssh, a);
  if (failure === undefined) {
    await ssh.run(dropOldAccessory(service, a.name));
    return;
  }
  const restored = await ssh.exec(restoreOldAccessory(service, a.name), { allowFailure: true });
  const old =
    restored.code === 0
      ? 'the old container runs again on the same data'
      : `putting the old container back failed too (${restored.stderr.trim() || `exit ${restored.code}`}); its data is kept`;
  throw new HostError(ssh.name, `accessory ${a.name}: its new container did not start: ${failure}; ${old}`, {
    hint: `look at what it printed above; fix boxship.yml (image, cmd, env) and run: boxship accessory up ${a.name}`,
  });
}

/** Why the started accessory does not listen on its port (what it printed), or undefined when it does. */
async function notReady(ctx: DeployContext, ssh: Runner, a: AccessoryConfig): Promise<string | undefined> {
  if (a.port === undefined) return undefined;
  const r = await ssh.exec(waitListening(names.accessory(ctx.config.service, a.name), a.port), { allowFailure: true });
  return r.code === 0 ? undefined : r.stderr.trim() || `exit ${r.code}`;
}

async function waitReady(ctx: DeployContext, ssh: Runner, a: AccessoryConfig): Promise<void> {
  const failure = await notReady(ctx, ssh, a);
  if (failure !== undefined) {
    throw new HostError(ssh.name, `accessory ${a.name} did not start: ${failure}`, {
      hint: `look at its logs: boxship accessory logs ${a.name}; fix boxship.yml (image, cmd, env) and run: boxship accessory up ${a.name}`,
    });
  }
}

async function stateOf(ctx: DeployContext, ssh: Runner, a: AccessoryConfig): Promise<AccessoryState> {
  return parseAccessoryState(await ssh.run(inspectAccessory(ctx.config.service, a.name)));
}

/**
 * Starts every accessory of this host that is not running: a missing one is created (image shipped first), a stopped
 * one started. A running one is left alone, even if boxship.yml changed it (a warning says how to apply that):
 * setup, rollout and deploy never restart a database.
 */
export async function ensureAccessories(ctx: DeployContext, ssh: Runner, docker: Docker): Promise<AccessoryResult[]> {
  const out: AccessoryResult[] = [];
  for (const a of accessoriesOn(ctx.config, ssh.name)) {
    const state = await stateOf(ctx, ssh, a);
    const text = envText(a);
    const result = (action: AccessoryAction) => out.push({ accessory: a.name, host: ssh.name, action });
    if (state.running) {
      if (state.image !== a.image || state.spec !== specOn(ctx, ssh, a, text)) {
        ctx.report({
          kind: 'warning',
          host: ssh.name,
          message: `accessory ${a.name} runs as it was started (${state.image}); boxship.yml changed it: run boxship accessory up ${a.name} to recreate it`,
        });
      }
      result('unchanged');
    } else if (state.exists) {
      ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: starting (it was ${state.status})` });
      await ssh.run(startAccessory(ctx.config.service, a.name));
      await waitReady(ctx, ssh, a);
      result('started');
    } else {
      ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: creating it (${a.image})` });
      await prepare(ctx, ssh, a, text);
      await ensureImage(ctx, ssh, docker, a);
      await create(ctx, ssh, a, specOn(ctx, ssh, a, text));
      result('created');
    }
  }
  return out;
}

/** Docker answers (installed on a bare host, as setup does) before an accessory command touches the host. */
async function ensureDockerFor(ctx: DeployContext, ssh: Runner): Promise<void> {
  await ensureDocker(ctx, ssh, parseDockerProbe(await ssh.run(probeDocker())));
}

/**
 * `accessory up`: the accessory as boxship.yml says. Missing: created. Started with another image (reference or
 * image ID: the tag was rebuilt), command, env, secrets, port or volumes: stopped (cleanly), removed and created again
 * on the same data. Stopped: started. Running as configured: left alone.
 */
export async function accessoryUp(ctx: DeployContext, ssh: Runner, docker: Docker, a: AccessoryConfig): Promise<AccessoryResult> {
  const text = envText(a);
  const spec = specOn(ctx, ssh, a, text);
  await ensureDockerFor(ctx, ssh);
  await prepare(ctx, ssh, a, text);
  await ensureImage(ctx, ssh, docker, a);
  const [state, id] = await Promise.all([stateOf(ctx, ssh, a), ssh.exec(hostImageId(a.image), { allowFailure: true })]);
  const hostId = id.code === 0 ? id.stdout.trim() : undefined;
  const done = (action: AccessoryAction): AccessoryResult => ({ accessory: a.name, host: ssh.name, action });
  if (!state.exists) {
    ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: creating it (${a.image})` });
    await create(ctx, ssh, a, spec);
    return done('created');
  }
  const changes = [
    ...(state.image !== a.image ? [`image ${state.image} -> ${a.image}`] : hostId && state.imageId !== hostId ? [`${a.image} is another image now`] : []),
    ...(state.spec !== undefined && state.spec !== spec && state.image === a.image ? ['its settings changed'] : []),
  ];
  if (changes.length) {
    ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: recreating it (${changes.join(', ')}); its data stays` });
    await recreate(ctx, ssh, a, spec);
    return done('recreated');
  }
  if (!state.running) {
    ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: starting (it was ${state.status})` });
    await ssh.run(startAccessory(ctx.config.service, a.name));
    await waitReady(ctx, ssh, a);
    return done('started');
  }
  return done('unchanged');
}

/** `accessory restart`: the same container stopped cleanly and started again (same data, same settings). */
export async function accessoryRestart(ctx: DeployContext, ssh: Runner, a: AccessoryConfig): Promise<AccessoryResult> {
  const state = await stateOf(ctx, ssh, a);
  if (!state.exists) {
    throw new HostError(ssh.name, `accessory ${a.name} has no container (${names.accessory(ctx.config.service, a.name)}) to restart`, {
      hint: `start it: boxship accessory up ${a.name}`,
    });
  }
  ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: restarting (up to ${a.stopTimeoutSeconds}s to shut down)` });
  await ssh.run(restartAccessory(ctx.config.service, a));
  await waitReady(ctx, ssh, a);
  return { accessory: a.name, host: ssh.name, action: 'restarted' };
}

/** `accessory down`: container stopped cleanly and removed, env file removed; data folders kept unless `removeData`. */
export async function accessoryDown(ctx: DeployContext, ssh: Runner, a: AccessoryConfig, removeData: boolean): Promise<AccessoryResult> {
  const state = await stateOf(ctx, ssh, a);
  if (state.exists) {
    ctx.report({ kind: 'step', host: ssh.name, message: `accessory ${a.name}: stopping and removing it (up to ${a.stopTimeoutSeconds}s to shut down)` });
    await ssh.run(removeAccessoryContainer(ctx.config.service, a));
  }
  const r = await ssh.exec(removeAccessoryFiles(relState(ctx), a.name, removeData), { allowFailure: true });
  if (r.code !== 0) {
    const dir = accessoryDataDir(await absState(ctx, ssh), a.name);
    throw new HostError(ssh.name, withDetail(`accessory ${a.name}: cannot remove its files`, r.stderr, `exit ${r.code}`), {
      hint: `files there belong to another user (the container's); remove them as root on the host: sudo rm -rf ${dir}`,
    });
  }
  return { accessory: a.name, host: ssh.name, action: state.exists ? 'removed' : 'absent', ...(removeData ? { dataRemoved: true } : {}) };
}
