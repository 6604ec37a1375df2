/**
 * Which simulated hosts this checkout's suites use when BOXSHIP_TEST_HOSTS is not set.
 *
 * Two checkouts on one machine share one Docker engine: a fresh clone running `.ci/run` next to a working copy whose
 * hosts are up must not touch those hosts (scripts/test-hosts.sh refuses to), so it takes the first *slot* whose
 * containers are absent or its own and whose ports nobody else holds. Slot 0 is the documented default
 * (a:2201:8081 b:2202:8082:ctrd, bare:2213:8093:bare); the choice is remembered in .boxship-test/host-slot so a
 * checkout keeps its hosts from run to run.
 */

export interface Slot {
  index: number;
  /** scripts/test-hosts.sh SPECs of the two-host mixed fleet. */
  hosts: string[];
  /** SPEC of the bootstrap suite's bare host. */
  bare: string;
  /** SPECs of the two hosts the swarm suite and bench make into a swarm (swarmSpecsFor the bare host). */
  swarm: string[];
}

/**
 * The swarm suite's hosts follow the bare host: its name with `bare` replaced by `sw1`/`sw2`, its ports + 1 and + 2
 * (bare:2213:8093 -> sw1:2214:8094 sw2:2215:8095), so BOXSHIP_BARE_HOST alone moves them too. Docker 20.10 hosts.
 */
export function swarmSpecsFor(bareSpec: string): string[] {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\d+):(\d+)/.exec(bareSpec.trim());
  if (!m) throw new Error(`bad bare host spec ${JSON.stringify(bareSpec)}`);
  const prefix = m[1]!.endsWith('bare') ? m[1]!.slice(0, -4) : `${m[1]}-`;
  const ssh = Number(m[2]);
  const http = Number(m[3]);
  return [1, 2].map((i) => `${prefix}sw${i}:${ssh + i}:${http + i}:d20`);
}

export const MAX_SLOT = 20;

export function slot(index: number): Slot {
  if (index === 0) return { index, hosts: ['a:2201:8081', 'b:2202:8082:ctrd'], bare: 'bare:2213:8093:bare', swarm: swarmSpecsFor('bare:2213:8093:bare') };
  const ssh = 2300 + index * 10;
  const http = 8300 + index * 10;
  return {
    index,
    hosts: [`s${index}a:${ssh + 1}:${http + 1}`, `s${index}b:${ssh + 2}:${http + 2}:ctrd`],
    bare: `s${index}bare:${ssh + 3}:${http + 3}:bare`,
    swarm: swarmSpecsFor(`s${index}bare:${ssh + 3}:${http + 3}:bare`),
  };
}

/** What the machine looks like: who started each container, who publishes each port, which ports are taken at all. */
export interface MachineView {
  /** container name -> the checkout label it carries ('' when none). */
  containers: ReadonlyMap<string, string>;
  /** published host port -> the checkout label of the container publishing it ('' when none). */
  published: ReadonlyMap<number, string>;
  /** ports something (a container or any other process) listens on. */
  busy: ReadonlySet<number>;
}

const parts = (spec: string) => {
  const [name, ssh, http] = spec.split(':');
  return { name: name!, ports: [Number(ssh), Number(http)] };
};

/** Every host port the slot publishes (ssh and http of each host). */
/** Every host SPEC of the slot. */
const specsOf = (s: Slot) => [...s.hosts, s.bare, ...s.swarm];

export const slotPorts = (s: Slot) => specsOf(s).flatMap((spec) => parts(spec).ports);

/** Why `s` cannot be this checkout's, or undefined when it can. */
export function conflict(s: Slot, checkout: string, view: MachineView): string | undefined {
  for (const spec of specsOf(s)) {
    const { name, ports } = parts(spec);
    const owner = view.containers.get(`boxship-host-${name}`);
    // An unlabelled host predates the labels; scripts/test-hosts.sh treats it as anyone's, and so do we.
    if (owner !== undefined && owner !== '' && owner !== checkout) return `boxship-host-${name} belongs to ${owner}`;
    for (const port of ports) {
      const by = view.published.get(port);
      if (by !== undefined) {
        if (by !== '' && by !== checkout) return `port ${port} is published by ${by}'s host`;
        continue;
      }
      if (view.busy.has(port)) return `port ${port} is in use`;
    }
  }
  return undefined;
}

/** The slot to use: the remembered one while it still fits, else the first that does. */
export function chooseSlot(checkout: string, view: MachineView, remembered?: number): { slot: Slot; skipped: string[] } {
  const skipped: string[] = [];
  const order = remembered !== undefined && remembered >= 0 && remembered <= MAX_SLOT ? [remembered] : [];
  for (let i = 0; i <= MAX_SLOT; i++) if (i !== remembered) order.push(i);
  for (const i of order) {
    const s = slot(i);
    const why = conflict(s, checkout, view);
    if (!why) return { slot: s, skipped };
    skipped.push(`slot ${i}: ${why}`);
  }
  throw new Error(`no free test-host slot on this machine (${skipped.join('; ')}); set BOXSHIP_TEST_HOSTS and BOXSHIP_BARE_HOST`);
}

/**
 * Slots for several runs of one checkout side by side (scripts/test-lanes.ts): each lane's remembered slot while it
 * fits, else the first free one, and never one an earlier lane of this pick took — as if that lane's hosts were up.
 */
export function chooseLaneSlots(lanes: { owner: string; remembered?: number }[], view: MachineView): Slot[] {
  const containers = new Map(view.containers);
  const taken = new Set<number>();
  return lanes.map(({ owner, remembered }) => {
    const free = remembered !== undefined && taken.has(remembered) ? undefined : remembered;
    const { slot: s } = chooseSlot(owner, { ...view, containers }, free);
    taken.add(s.index);
    for (const spec of specsOf(s)) containers.set(`boxship-host-${parts(spec).name}`, owner);
    return s;
  });
}
