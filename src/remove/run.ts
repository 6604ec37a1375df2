/**
 * `boxship remove`: takes one service off every host of boxship.yml, leaving every other service on the server (and
 * the server's edge) as it was. Per host, in the order that keeps clients of the name from meeting a half-removed
 * service: the edge stops routing its names (files, no reload, so other services' clients see nothing), then its
 * proxy, accessories and instances go, then its network, its release images (those the ledger lists) and its state
 * dir. Data (app volumes, accessory data folders) is kept unless `removeData`.
 *
 * The deploy lock lives in the state dir being removed, so the dir's last files (the lock, the audit line of this
 * run) go after the lock is given back, and only if no other command has taken the lock since.
 */
import { accessoriesOn } from '../accessories/run.js';
import { removeAccessoryContainer } from '../accessories/commands.js';
import { plannedContext } from '../backend/plan.js';
import type { BackendEnv, RemoveRequest, RemoveResult } from '../backend/types.js';
import type { Config } from '../config/types.js';
import { edgeState, listRoutes, parseEdgeState, removeRoute, removeRouterSocket } from '../edge/commands.js';
import { EDGE_CONTAINER } from '../edge/layout.js';
import { parseRoutes, planRoutes } from '../edge/routes.js';
import { type DeployContext, relState } from '../fleet/context.js';
import { withLock } from '../fleet/lock.js';
import { names } from '../fleet/names.js';
import { withHostSession } from '../fleet/session.js';
import type { Runner } from '../hosts/runner.js';
import { parseProxyState, proxyState, removeProxy } from '../proxy/commands.js';
import { readLedger, releasesNewestFirst } from '../state/ledger.js';
import { ExitCode } from '../util/errors.js';
import { finishStateDir, listServiceContainers, removeNetwork, removeReleaseImage, removeServiceContainers, removeStateFiles } from './commands.js';

/** What `remove` did on one host (and, under --json, says). */
export interface HostRemoval {
  host: string;
  /** Containers removed: the proxy, instances, accessories, one-off containers. */
  containers: string[];
  /** Edge routes removed, as `name` or `name/prefix`. */
  routes: string[];
  /** Release tags whose image was removed. */
  images: string[];
  /** Release images left on the host, with docker's reason (another container runs it). */
  imagesKept: { tag: string; why: string }[];
  network: 'removed' | 'absent' | { kept: string };
  /** The state dir: gone, kept for the data folders in it, or left because another command took the lock since. */
  stateDir: 'removed' | 'data kept' | 'locked';
  dataRemoved: boolean;
  /** The edge routed this service, and routes nothing else now (it stays; the CLI says how to remove it). */
  edgeIdle?: true;
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** Everything of the service on one host, under the lock; the state dir's last files are finishHost's. */
async function removeFromHost(ctx: DeployContext, ssh: Runner, removeData: boolean): Promise<Omit<HostRemoval, 'stateDir'>> {
  const { service } = ctx.config;
  const [edge, proxy, containers, ledger] = await Promise.all([
    ssh.run(edgeState()).then(parseEdgeState),
    ssh.run(proxyState(service)).then(parseProxyState),
    ssh.run(listServiceContainers(service)).then(lines),
    readLedger(ssh, relState(ctx)).then(releasesNewestFirst),
  ]);
  await ctx.lock?.verify?.(ssh.name);

  // The edge first: from here on no request for the service's names reaches its router.
  let routes: string[] = [];
  let edgeIdle = false;
  if (edge.status === 'running') {
    const current = parseRoutes(await ssh.run(listRoutes()));
    const { remove } = planRoutes(service, undefined, current);
    for (const r of remove) await ssh.run(removeRoute(r.host, r.entry));
    await ssh.run(removeRouterSocket(service));
    routes = remove.map((r) => (r.entry === 'root' ? r.host : `${r.host}/${r.entry.slice(2)}`));
    edgeIdle = remove.length > 0 && current.entries.every((e) => e.service === service);
    if (remove.length) ctx.report({ kind: 'step', host: ssh.name, message: `the edge no longer routes ${routes.join(', ')}` });
  } else if (edge.status !== 'missing') {
    ctx.report({
      kind: 'warning',
      host: ssh.name,
      message: `the edge (${EDGE_CONTAINER}) is ${edge.status}: routes to ${service}, if any, stay in its volume; run boxship remove again once it runs`,
    });
  }

  if (proxy.status !== 'missing') await ssh.run(removeProxy(service));
  for (const a of accessoriesOn(ctx.config, ssh.name)) await ssh.run(removeAccessoryContainer(service, a));
  await ssh.run(removeServiceContainers(service, ctx.config.app.stopTimeoutSeconds));
  ctx.report({ kind: 'step', host: ssh.name, message: `removed ${containers.length + (proxy.status === 'missing' ? 0 : 1)} containers` });

  const net = await ssh.exec(removeNetwork(service), { allowFailure: true });
  const network: HostRemoval['network'] =
    net.code !== 0 ? { kept: net.stderr.trim() || `exit ${net.code}` } : net.stdout.trim() === 'absent' ? 'absent' : 'removed';
  if (typeof network === 'object') ctx.report({ kind: 'warning', host: ssh.name, message: `the ${names.network(service)} network stays: ${network.kept}` });

  const images: string[] = [];
  const imagesKept: HostRemoval['imagesKept'] = [];
  for (const e of ledger) {
    const r = await ssh.exec(removeReleaseImage(service, e.tag), { allowFailure: true });
    if (r.code !== 0) imagesKept.push({ tag: e.tag, why: r.stderr.trim() || `exit ${r.code}` });
    else if (r.stdout.trim() !== 'absent') images.push(e.tag);
  }
  for (const k of imagesKept) ctx.report({ kind: 'warning', host: ssh.name, message: `the image ${names.image(service, k.tag)} stays: ${k.why}` });

  await ssh.run(removeStateFiles(relState(ctx), !removeData));
  return {
    host: ssh.name,
    containers: [...(proxy.status === 'missing' ? [] : [names.proxy(service)]), ...containers],
    routes,
    images,
    imagesKept,
    network,
    dataRemoved: removeData,
    ...(edgeIdle ? { edgeIdle: true as const } : {}),
  };
}

/** After the lock: the state dir goes unless data folders are in it or another command holds the lock now. */
async function finishHost(ctx: DeployContext, ssh: Runner, done: Omit<HostRemoval, 'stateDir'>): Promise<HostRemoval> {
  const out = (await ssh.run(finishStateDir(relState(ctx)))).trim();
  if (out === 'locked')
    ctx.report({ kind: 'warning', host: ssh.name, message: `another command took the lock of ${ctx.config.service} meanwhile: ~/${relState(ctx)} stays` });
  return { ...done, stateDir: out === 'locked' ? 'locked' : out === 'kept' ? 'data kept' : 'removed' };
}

/** Under the lock on every host of `ctx`, then each state dir's last files; exported for the unit tests' scripted hosts. */
export async function removeEverywhere(ctx: DeployContext, removeData: boolean): Promise<HostRemoval[]> {
  const done = await withLock(
    ctx,
    async () => {
      // Every host finishes (or fails) before the lock is given back; then the first failure is the error.
      const settled = await Promise.allSettled(ctx.hosts.map((h) => removeFromHost(ctx, h, removeData)));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return settled.map((r) => (r as PromiseFulfilledResult<Omit<HostRemoval, 'stateDir'>>).value);
    },
    () => `removed ${ctx.config.service}${removeData ? ' and its data' : ''}`,
  );
  return Promise.all(done.map((d, i) => finishHost(ctx, ctx.hosts[i]!, d)));
}

export function removeService(config: Config, env: BackendEnv, req: RemoveRequest): Promise<RemoveResult> {
  const removeData = Boolean(req.removeData);
  return withHostSession(config, env, async (ctx): Promise<RemoveResult> => {
    const where = `${ctx.hosts.length} host${ctx.hosts.length === 1 ? '' : 's'}`;
    if (req.plan) {
      const dry = plannedContext(ctx);
      await removeEverywhere(dry.ctx, removeData);
      return {
        backend: 'plan',
        plan: dry.plan(`remove ${config.service}${removeData ? ' and its data' : ''} from ${where}; nothing has been run.`),
        exitCode: ExitCode.ok,
      };
    }
    const hosts = await env.step(`Remove ${config.service} from ${where}`, () => removeEverywhere(ctx, removeData));
    return { backend: 'hosts', service: config.service, hosts, exitCode: ExitCode.ok };
  });
}
