/**
 * `boxship status` on a swarm, as data: the service and its update state, then per node the proxy and the tasks it
 * runs (src/cli/render/swarm.ts turns it into text; `status --json` prints it as it is).
 */
import { parseProxyState, proxyState } from '../proxy/commands.js';
import { readMode } from '../rollout/setup.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import { lockAge, parseLockInfo, readLock, staleReason } from '../state/lock.js';
import { stateDir } from '../state/paths.js';
import { inspectService, nodeTasks, parseNodeTasks, parseTasks, serviceTasks, swarmNames } from './commands.js';
import { runningOf } from './follow.js';
import { parseServiceSpec } from './service-spec.js';
import type { SwarmSession } from './session.js';

export interface SwarmStatusJson {
  backend: 'swarm';
  manager: string;
  service: null | {
    name: string;
    image: string;
    replicas: number;
    running: number;
    update: { state: string; message?: string } | null;
    /** The spec's own health check command, or null when the tasks use the image's (or none). */
    healthcheck: string[] | null;
  };
  canary: null | { name: string; image: string; replicas: number; running: number };
  current?: string;
  previous?: string;
  lock: null | { who: string; command: string; time: string; stale: string | null };
  nodes: {
    host: string;
    node: string;
    role: string;
    availability: string;
    state: string;
    proxy: string;
    mode: 'serving' | 'maintenance';
    tasks: { task: string; service: string; tag: string; health: string; status: string }[];
  }[];
  /** Nodes no reachable host leads to (down, presumably an unreachable host). */
  unreachable: { host: string; error: string }[];
}

export async function swarmStatus(session: SwarmSession): Promise<SwarmStatusJson> {
  const { config, manager } = session;
  const rel = stateDir(config.service);
  const canaryName = swarmNames.canary(config.service);
  const tagOf = (image: string) => (image.startsWith(`${config.service}:`) ? image.slice(config.service.length + 1) : image);
  const [spec, tasks, canary, canaryTasks, deploys, lockInfo, age] = await Promise.all([
    manager.run(inspectService(config.service)).then(parseServiceSpec),
    manager.run(serviceTasks(config.service)).then(parseTasks),
    manager.run(inspectService(canaryName)).then(parseServiceSpec),
    manager.run(serviceTasks(canaryName)).then(parseTasks),
    manager.run(readDeploys(rel)).then(parseDeploys),
    manager.run(readLock(rel)).then(parseLockInfo),
    manager.run(lockAge(rel)),
  ]);
  const ctx = { ...session.ctx, hosts: session.members.map((m) => m.ssh) };
  const nodes = await Promise.all(
    session.members.map(async (m) => {
      const [proxy, mode, onNode] = await Promise.all([
        m.ssh.run(proxyState(config.service)).then(parseProxyState),
        readMode(ctx, m.ssh),
        m.ssh.run(nodeTasks()).then((t) => parseNodeTasks(t, [config.service, canaryName])),
      ]);
      return {
        host: m.ssh.name,
        node: m.node.hostname,
        role: m.node.role,
        availability: m.node.availability,
        state: m.node.state,
        proxy: proxy.status,
        mode: mode.kind,
        tasks: onNode.map((t) => ({ task: t.task, service: t.service, tag: tagOf(t.image), health: t.health, status: t.status })),
      };
    }),
  );
  const ageSeconds = Number(age.trim());
  return {
    backend: 'swarm',
    manager: manager.name,
    service: spec
      ? {
          name: config.service,
          image: spec.image,
          replicas: spec.replicas,
          running: runningOf(tasks, spec.image),
          update: spec.updateState ? { state: spec.updateState, ...(spec.updateMessage ? { message: spec.updateMessage } : {}) } : null,
          healthcheck: spec.healthcheck ?? null,
        }
      : null,
    canary: canary ? { name: canaryName, image: canary.image, replicas: canary.replicas, running: runningOf(canaryTasks, canary.image) } : null,
    ...currentAndPrevious(deploys),
    lock: lockInfo ? { who: lockInfo.who, command: lockInfo.command, time: lockInfo.time, stale: staleReason({ info: lockInfo, ageSeconds }) ?? null } : null,
    nodes,
    unreachable: session.unreachable,
  };
}
