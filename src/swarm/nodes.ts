/**
 * The swarm's nodes against boxship.yml's hosts (pure): which configured host is which node (by the node ID each
 * host's engine reports), which node is missing from hosts, which host is not in the swarm, and which nodes may run
 * a task of the service (ready, and matching its placement constraints), so that those get every release.
 */

/** One node as `docker node inspect` describes it (the fields boxship reads). */
export interface SwarmNode {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  availability: 'active' | 'pause' | 'drain';
  /** ready, down, unknown, disconnected */
  state: string;
  /** The address the node is reached at in the swarm (its advertise address). */
  addr: string;
  os: string;
  arch: string;
  labels: Record<string, string>;
  engineLabels: Record<string, string>;
  leader: boolean;
}

/** What `docker info --format '{{json .Swarm}}'` says about the engine a host's SSH address leads to. */
export interface EngineSwarm {
  nodeId: string;
  /** inactive, pending, active, error, locked */
  state: string;
  /** True on a manager. */
  control: boolean;
  /** The swarm's ID (managers only). */
  clusterId?: string;
  error?: string;
}

interface RawNode {
  ID?: string;
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> | null };
  Description?: { Hostname?: string; Platform?: { Architecture?: string; OS?: string }; Engine?: { Labels?: Record<string, string> | null } };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Addr?: string };
}

/** Parses `docker node inspect` output (a JSON array), sorted by hostname. */
export function parseNodes(text: string): SwarmNode[] {
  const data = JSON.parse(text.trim() || '[]') as RawNode[];
  if (!Array.isArray(data)) throw new Error('docker node inspect did not print a JSON array');
  return data
    .map((n) => ({
      id: n.ID ?? '',
      hostname: n.Description?.Hostname ?? '',
      role: n.Spec?.Role === 'manager' ? ('manager' as const) : ('worker' as const),
      availability: (n.Spec?.Availability ?? 'active') as SwarmNode['availability'],
      state: n.Status?.State ?? 'unknown',
      // A manager's Status.Addr can be 0.0.0.0 in some versions; its ManagerStatus.Addr is host:2377.
      addr: n.Status?.Addr && n.Status.Addr !== '0.0.0.0' ? n.Status.Addr : (n.ManagerStatus?.Addr ?? '').replace(/:\d+$/, ''),
      os: n.Description?.Platform?.OS ?? '',
      arch: n.Description?.Platform?.Architecture ?? '',
      labels: n.Spec?.Labels ?? {},
      engineLabels: n.Description?.Engine?.Labels ?? {},
      leader: n.ManagerStatus?.Leader === true,
    }))
    .sort((a, b) => a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id));
}

/** Parses `docker info --format '{{json .Swarm}}'`. */
export function parseEngineSwarm(text: string): EngineSwarm {
  const s = JSON.parse(text.trim() || '{}') as {
    NodeID?: string;
    LocalNodeState?: string;
    ControlAvailable?: boolean;
    Error?: string;
    Cluster?: { ID?: string } | null;
  };
  return {
    nodeId: s.NodeID ?? '',
    state: s.LocalNodeState ?? 'inactive',
    control: s.ControlAvailable === true,
    ...(s.Cluster?.ID ? { clusterId: s.Cluster.ID } : {}),
    ...(s.Error ? { error: s.Error } : {}),
  };
}

/** A configured host and what its engine said (or why it could not be asked). */
export interface HostEngine {
  host: string;
  engine?: EngineSwarm;
  error?: string;
}

export interface NodeMatch {
  /** Each configured host that is a node of the swarm, with its node. */
  pairs: { host: string; node: SwarmNode }[];
  /** Nodes of the swarm that no configured host leads to. */
  missingFromHosts: SwarmNode[];
  /** Configured hosts whose engine is not a node of this swarm, with why. */
  notInSwarm: { host: string; why: string }[];
  /** Configured hosts that could not be asked (unreachable): they may be any of missingFromHosts. */
  unreachable: { host: string; error: string }[];
}

export function describeNode(n: SwarmNode): string {
  return `${n.hostname} (${n.role}, ${n.addr || 'no address'}, ${n.state}${n.availability !== 'active' ? `, ${n.availability}` : ''}, id ${n.id.slice(0, 12)})`;
}

/** Pairs hosts with nodes by node ID; whatever is left over on either side is reported. */
export function matchNodes(nodes: SwarmNode[], hosts: HostEngine[]): NodeMatch {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out: NodeMatch = { pairs: [], missingFromHosts: [], notInSwarm: [], unreachable: [] };
  const claimed = new Map<string, string>();
  for (const h of hosts) {
    if (!h.engine) {
      out.unreachable.push({ host: h.host, error: h.error ?? 'not reachable' });
      continue;
    }
    const e = h.engine;
    const node = e.nodeId ? byId.get(e.nodeId) : undefined;
    if (e.state !== 'active' || !node) {
      const why =
        e.state === 'inactive'
          ? 'its Docker engine is not part of any swarm'
          : e.state !== 'active'
            ? `its Docker engine's swarm state is ${e.state}${e.error ? ` (${e.error})` : ''}`
            : `its engine is node ${e.nodeId.slice(0, 12)} of another swarm`;
      out.notInSwarm.push({ host: h.host, why });
      continue;
    }
    const other = claimed.get(node.id);
    if (other !== undefined) {
      out.notInSwarm.push({ host: h.host, why: `it leads to the same node as ${other} (${node.hostname})` });
      continue;
    }
    claimed.set(node.id, h.host);
    out.pairs.push({ host: h.host, node });
  }
  out.missingFromHosts = nodes.filter((n) => !claimed.has(n.id));
  return out;
}

interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

function parseConstraint(text: string): Constraint {
  const m = /^\s*([^=!\s]+)\s*(==|!=)\s*(.+?)\s*$/.exec(text);
  if (!m) throw new Error(`not a placement constraint: ${JSON.stringify(text)}`);
  return { key: m[1]!, op: m[2] as Constraint['op'], value: m[3]! };
}

const ARCH_ALIASES: Record<string, string[]> = {
  x86_64: ['x86_64', 'amd64'],
  amd64: ['x86_64', 'amd64'],
  aarch64: ['aarch64', 'arm64'],
  arm64: ['aarch64', 'arm64'],
};

/** The values a node has for a constraint key (a missing label is ""), as Swarm compares them: case-insensitive. */
function nodeValues(node: SwarmNode, key: string): string[] {
  const k = key.toLowerCase();
  if (k === 'node.id') return [node.id];
  if (k === 'node.hostname') return [node.hostname];
  if (k === 'node.role') return [node.role];
  if (k === 'node.platform.os') return [node.os];
  if (k === 'node.platform.arch') return ARCH_ALIASES[node.arch.toLowerCase()] ?? [node.arch];
  if (key.startsWith('node.labels.')) return [node.labels[key.slice('node.labels.'.length)] ?? ''];
  if (key.startsWith('engine.labels.')) return [node.engineLabels[key.slice('engine.labels.'.length)] ?? ''];
  throw new Error(`unknown placement constraint key ${key}`);
}

/** Whether a node satisfies every constraint, the way Swarm's scheduler decides it. */
export function matchesConstraints(node: SwarmNode, constraints: string[]): boolean {
  return constraints.map(parseConstraint).every((c) => {
    const equal = nodeValues(node, c.key).some((v) => v.toLowerCase() === c.value.toLowerCase());
    return c.op === '==' ? equal : !equal;
  });
}

/**
 * Nodes that must hold every release: those the scheduler may place a task on now or after an `availability`
 * change (ready and matching the constraints; a drained node too, so that making it active again never meets a
 * missing image). A node that is down cannot be reached and is reported separately.
 */
export function shipTargets(nodes: SwarmNode[], constraints: string[]): SwarmNode[] {
  return nodes.filter((n) => n.state === 'ready' && matchesConstraints(n, constraints));
}

/** Nodes a task may be placed on right now: ready, active and matching the constraints. */
export function schedulable(nodes: SwarmNode[], constraints: string[]): SwarmNode[] {
  return shipTargets(nodes, constraints).filter((n) => n.availability === 'active');
}
