/** Reads what each host runs now (from the containers' labels) into the planner's HostState. */
import type { Runner } from '../hosts/runner.js';
import type { DeployContext } from '../fleet/context.js';
import { accessoryHostsLabel, type InstanceInfo, listInstances, parseInstances } from './instance-commands.js';
import { names } from '../fleet/names.js';
import type { HostState } from './plan.js';

export interface HostRuntime {
  state: HostState;
  instances: InstanceInfo[];
  /** Instances outside slots 1..instances (left after scaling down): removed after a full rollout. */
  extra: InstanceInfo[];
}

export async function readHost(ctx: DeployContext, ssh: Runner, instances: number): Promise<HostRuntime> {
  const all = parseInstances(await ssh.run(listInstances(ctx.config.service)));
  const slots = Array.from({ length: instances }, (_, i) => {
    const slot = i + 1;
    const live = all.find((c) => c.name === names.instance(ctx.config.service, slot) && c.running);
    return {
      slot,
      tag: live?.tag ?? null,
      colour: live?.colour ?? null,
      accessoryHosts: live?.accessoryHosts ?? '',
      ...(live?.spec ? { spec: live.spec } : {}),
    };
  });
  const extra = all.filter((c) => c.slot > instances);
  return { state: { host: ssh.name, slots, accessoryHosts: accessoryHostsLabel(ctx.config, ssh.name) }, instances: all, extra };
}

/** Per host, the names of every container of the service (leftovers included): what a move may need to clear. */
export function containerNames(fleet: HostRuntime[]): Map<string, ReadonlySet<string>> {
  return new Map(fleet.map((f) => [f.state.host, new Set(f.instances.map((i) => i.name))]));
}

export async function readFleet(ctx: DeployContext): Promise<HostRuntime[]> {
  return Promise.all(ctx.hosts.map((ssh) => readHost(ctx, ssh, ssh.config.instances)));
}
