/**
 * Opening the swarm: connect to every host, ask each engine which swarm node it is, ask the manager for the swarm's
 * nodes, and check that the two lists are the same set before anything is shipped or changed. A node that no host
 * leads to would get tasks but never an image; a host that is not a node would get images and never a task.
 */
import type { Config, HostConfig } from '../config/types.js';
import { type Connection, openFleet } from '../hosts/fleet.js';
import type { Runner } from '../hosts/runner.js';
import type { DeployContext } from '../fleet/context.js';
import { whoAmI } from '../state/ledger.js';
import { BoxshipError, ExitCode, InputError, errorMessage } from '../util/errors.js';
import type { Report } from '../util/events.js';
import { engineSwarm, inspectNodes } from './commands.js';
import { describeNode, type HostEngine, matchNodes, type NodeMatch, parseEngineSwarm, parseNodes, schedulable, shipTargets, type SwarmNode } from './nodes.js';

export interface Member {
  ssh: Runner;
  node: SwarmNode;
}

export interface SwarmSession {
  config: Config;
  manager: Runner;
  nodes: SwarmNode[];
  /** Every reachable configured host, with its node. */
  members: Member[];
  /** Members whose node must hold every release (ready, matching the constraints). */
  targets: Member[];
  /** Members a task may be placed on right now (targets that are active). */
  schedulable: Member[];
  /** Configured hosts that could not be reached although their node is not known to be down. */
  unreachable: { host: string; error: string }[];
  /** Said once, before anything else: unreachable hosts whose node is down. */
  warnings: string[];
  /** For the lock and audit log (the manager only) and for reports. */
  ctx: DeployContext;
  close(): void;
}

/** A configured host as the transport left it: connected (a Runner), or not and why. */
type HostLink = { host: string; runner: Runner; error?: undefined } | { host: string; runner?: undefined; error: string };

/**
 * How the hosts are reached: over SSH through openFleet in a run; scripted runners in unit tests, so that the whole
 * backend (node check, lock, plan) runs there without a host.
 */
export type ConnectHosts = (hosts: HostConfig[], acceptNewHostKeys?: boolean) => Promise<{ links: HostLink[]; close(): void }>;

export const connectOverSsh: ConnectHosts = async (hosts, acceptNewHostKeys) => {
  const fleet = await openFleet(hosts, { acceptNewHostKeys });
  return {
    links: fleet.connections.map((c: Connection): HostLink => (c.ssh ? { host: c.host.name, runner: c.ssh } : { host: c.host.name, error: c.error.message })),
    close: fleet.close,
  };
};

/** What the node check found wrong (exit 2), what it only warns about, and which unreachable hosts stay errors. */
export interface MembershipVerdict {
  problems: string[];
  warnings: string[];
  unreachable: { host: string; error: string }[];
}

/**
 * Judges a match (pure). A node no host leads to is an error, unless it is down and a configured host is
 * unreachable (presumably that node): a down node gets no tasks, so the run can go on without it.
 */
export function judgeMembership(match: NodeMatch, manager: string): MembershipVerdict {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const h of match.notInSwarm) {
    problems.push(`${h.host} (in hosts) is not a node of the swarm managed by ${manager}: ${h.why}`);
  }
  const down = match.missingFromHosts.filter((n) => n.state !== 'ready');
  const ready = match.missingFromHosts.filter((n) => n.state === 'ready');
  for (const n of ready) problems.push(`swarm node ${describeNode(n)} is not in hosts: it may run tasks but would never get a release`);
  const explained = Math.min(down.length, match.unreachable.length);
  for (const n of down.slice(explained)) problems.push(`swarm node ${describeNode(n)} is not in hosts`);
  const unexplained = match.unreachable.slice(explained);
  if (explained > 0) {
    const hosts = match.unreachable
      .slice(0, explained)
      .map((u) => u.host)
      .join(', ');
    const nodes = down
      .slice(0, explained)
      .map((n) => n.hostname)
      .join(', ');
    warnings.push(
      `cannot reach ${hosts}; swarm node(s) ${nodes}, not ready (${down
        .slice(0, explained)
        .map((n) => n.state)
        .join(', ')}), get no tasks: going on without them (they get the releases on the next release or setup)`,
    );
  }
  return { problems, warnings, unreachable: unexplained };
}

export interface OpenOptions {
  /** The command line (lock and audit log). */
  command: string;
  acceptNewHostKeys?: boolean;
  report?: Report;
  /** Refuse to go on when a host is unreachable (changes); release instead reports it as a failed host. */
  requireAll: boolean;
  /** Default: over SSH. */
  connect?: ConnectHosts;
  /**
   * Stands in for the connected runners (in config order) before anything runs, e.g. dry-run runners for a plan:
   * every Runner the session holds (manager, members, the lock's hosts) is one of these.
   */
  wrap?: (runners: Runner[]) => Runner[];
}

export async function openSwarmSession(config: Config, opts: OpenOptions): Promise<SwarmSession> {
  const swarm = config.swarm!;
  const fleet = await (opts.connect ?? connectOverSsh)(config.hosts, opts.acceptNewHostKeys);
  try {
    const connections = wrapLinks(fleet.links, opts.wrap);
    const managerConn = connections.find((c) => c.host === swarm.manager)!;
    if (!managerConn.runner) {
      throw new BoxshipError(`cannot reach the swarm manager ${swarm.manager}; nothing was changed: ${managerConn.error}`, {
        hint: 'check the host, or set swarm.manager to another manager of the swarm',
      });
    }
    const manager = managerConn.runner;
    const engines: HostEngine[] = await Promise.all(
      connections.map(async (c): Promise<HostEngine> => {
        if (!c.runner) return { host: c.host, error: c.error };
        try {
          return { host: c.host, engine: parseEngineSwarm(await c.runner.run(engineSwarm())) };
        } catch (err) {
          return { host: c.host, error: errorMessage(err) };
        }
      }),
    );
    const managerEngine = engines.find((e) => e.host === swarm.manager)?.engine;
    if (managerEngine?.state !== 'active' || !managerEngine.control) {
      const why = !managerEngine
        ? 'its Docker engine does not answer'
        : managerEngine.state !== 'active'
          ? 'its Docker engine is not part of a swarm'
          : 'it is a worker, not a manager';
      throw new InputError(`swarm.manager ${swarm.manager} is not a swarm manager: ${why}; nothing was shipped or changed`, {
        hint:
          managerEngine?.state === 'inactive'
            ? `create the swarm there (docker swarm init --advertise-addr <its address>) and join the other hosts to it, or set swarm.manager to a manager`
            : 'set swarm.manager to a manager of the swarm (docker node ls on a manager lists them)',
      });
    }
    const nodes = parseNodes(await manager.run(inspectNodes()));
    const match = matchNodes(nodes, engines);
    const verdict = judgeMembership(match, swarm.manager);
    if (verdict.problems.length) {
      throw new InputError(
        `the swarm's nodes and hosts: in ${config.file} do not match; nothing was shipped or changed:\n${verdict.problems.map((p) => `  ${p}`).join('\n')}`,
        {
          hint: 'list every node of the swarm in hosts (by an SSH address that leads to it), and only those; to add a host to the swarm: docker swarm join-token worker (on the manager) prints the command to run on it; to take a node out: docker node rm',
        },
      );
    }
    if (opts.requireAll && verdict.unreachable.length) {
      throw new BoxshipError(
        `cannot reach ${verdict.unreachable.map((u) => u.host).join(', ')}; nothing was changed:\n${verdict.unreachable.map((u) => `  ${u.error}`).join('\n')}`,
        {
          hint: 'check the hosts, then run the command again (a node that is down in the swarm is skipped)',
          exitCode: ExitCode.failed,
        },
      );
    }
    const members: Member[] = match.pairs.map((p) => ({ ssh: connections.find((c) => c.host === p.host)!.runner!, node: p.node }));
    const targetIds = new Set(shipTargets(nodes, swarm.constraints).map((n) => n.id));
    const schedulableIds = new Set(schedulable(nodes, swarm.constraints).map((n) => n.id));
    const ctx: DeployContext = { config, hosts: [manager], who: whoAmI(), command: opts.command, report: opts.report ?? (() => {}) };
    return {
      config,
      manager,
      nodes,
      members,
      targets: members.filter((m) => targetIds.has(m.node.id)),
      schedulable: members.filter((m) => schedulableIds.has(m.node.id)),
      unreachable: verdict.unreachable,
      warnings: verdict.warnings,
      ctx,
      close: fleet.close,
    };
  } catch (err) {
    fleet.close();
    throw err;
  }
}

function wrapLinks(links: HostLink[], wrap: OpenOptions['wrap']): HostLink[] {
  if (!wrap) return links;
  const connected = links.flatMap((l) => (l.runner ? [l.runner] : []));
  const wrapped = wrap(connected);
  return links.map((l) => (l.runner ? { host: l.host, runner: wrapped[connected.indexOf(l.runner)]! } : l));
}
