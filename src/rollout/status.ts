/** `status` on the per-host backend: per host, the proxy mode, each instance with its release and health, roles, accessories, lock. */
import { inspectAccessory, parseAccessoryState } from '../accessories/commands.js';
import { accessoriesOn } from '../accessories/run.js';
import type { HostStatusRow } from '../backend/types.js';
import { type DeployContext, relState } from '../fleet/context.js';
import { edgeStatus } from '../edge/status.js';
import { names } from '../fleet/names.js';
import type { Runner } from '../hosts/runner.js';
import { parseProxyState, probeUpstream, proxyState } from '../proxy/commands.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import { lockAge, parseLockInfo, readLock, staleReason } from '../state/lock.js';
import { listInstances, parseInstances } from './instance-commands.js';
import { listRoleContainers, parseRoleContainers } from './role-commands.js';
import { readMode } from './setup.js';

export async function hostStatus(ctx: DeployContext, ssh: Runner): Promise<HostStatusRow> {
  const { config } = ctx;
  const rel = relState(ctx);
  const [mode, proxy, instances, deploys, lock, accessories, edge, roles] = await Promise.all([
    readMode(ctx, ssh),
    ssh.run(proxyState(config.service)).then(parseProxyState),
    ssh.run(listInstances(config.service)).then(parseInstances),
    ssh.run(readDeploys(rel)).then(parseDeploys),
    Promise.all([ssh.run(readLock(rel)).then(parseLockInfo), ssh.run(lockAge(rel))]).then(([info, age]) =>
      info ? { ...info, ageSeconds: Number(age.trim()), stale: staleReason({ info, ageSeconds: Number(age.trim()) }) ?? null } : undefined,
    ),
    Promise.all(
      accessoriesOn(config, ssh.name).map(async (a) => {
        const st = parseAccessoryState(await ssh.run(inspectAccessory(config.service, a.name)));
        return { name: a.name, image: st.image ?? a.image, status: st.status ?? 'missing' };
      }),
    ),
    edgeStatus(config, ssh),
    config.roles ? ssh.run(listRoleContainers(config.service)).then(parseRoleContainers) : undefined,
  ]);
  // Out of rotation already, so their health is not the slots': listed apart, with the time the host gives them.
  const draining = instances
    .filter((i) => i.drainingFor !== undefined)
    .map((i) => ({ name: i.name, slot: i.slot, tag: i.tag, until: new Date(Date.now() + (i.drainingFor ?? 0) * 1000).toISOString() }));
  const withHealth = await Promise.all(
    instances
      .sort((a, b) => a.slot - b.slot || a.name.localeCompare(b.name))
      .filter((i) => i.drainingFor === undefined)
      .map(async (i) => {
        const probe = i.running
          ? await ssh.exec(
              probeUpstream(
                config.service,
                names.alias(config.service, i.slot, i.colour),
                config.healthcheck.port,
                config.healthcheck.path,
                config.healthcheck.timeoutMs,
              ),
              { allowFailure: true },
            )
          : undefined;
        const health: 'healthy' | 'unhealthy' | 'stopped' = !i.running ? 'stopped' : probe?.code === 0 ? 'healthy' : 'unhealthy';
        return { ...i, health };
      }),
  );
  return {
    host: ssh.name,
    mode: mode.kind,
    proxy: proxy.status,
    ...currentAndPrevious(deploys),
    instances: withHealth,
    ...(draining.length ? { draining } : {}),
    ...(roles
      ? {
          roles: roles
            .sort((a, b) => a.role.localeCompare(b.role) || a.slot - b.slot || a.name.localeCompare(b.name))
            .map((c) => ({ name: c.name, role: c.role, slot: c.slot, tag: c.tag, state: c.running ? ('running' as const) : ('stopped' as const) })),
        }
      : {}),
    ...(accessories.length ? { accessories } : {}),
    ...(edge ? { edge } : {}),
    lock: lock ?? null,
  };
}
