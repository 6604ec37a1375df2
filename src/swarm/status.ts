/** `boxship status` on a swarm: the service and its update state, then per node the proxy and the tasks it runs. */
import { parseProxyState, proxyState } from '../proxy/commands.js';
import { readMode } from '../rollout/setup.js';
import { currentAndPrevious, parseDeploys, readDeploys } from '../state/deploys.js';
import { lockAge, parseLockInfo, readLock, staleReason } from '../state/lock.js';
import { stateDir } from '../state/paths.js';
import { inspectService, nodeTasks, parseNodeTasks, parseServiceSpec, parseTasks, serviceTasks, swarmNames } from './commands.js';
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
  const running = (list: typeof tasks, image: string) =>
    list.filter((t) => t.desired === 'Running' && t.current.startsWith('Running') && t.image === image).length;
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
          running: running(tasks, spec.image),
          update: spec.updateState ? { state: spec.updateState, ...(spec.updateMessage ? { message: spec.updateMessage } : {}) } : null,
          healthcheck: spec.healthcheck ?? null,
        }
      : null,
    canary: canary ? { name: canaryName, image: canary.image, replicas: canary.replicas, running: running(canaryTasks, canary.image) } : null,
    ...currentAndPrevious(deploys),
    lock: lockInfo ? { who: lockInfo.who, command: lockInfo.command, time: lockInfo.time, stale: staleReason({ info: lockInfo, ageSeconds }) ?? null } : null,
    nodes,
    unreachable: session.unreachable,
  };
}

export function renderSwarmStatus(s: SwarmStatusJson): string {
  const short = (t?: string) => (t ? t.slice(0, 12) : '-');
  const lines: string[] = [];
  if (!s.service) lines.push(`service:  none yet (run: boxship rollout)   manager: ${s.manager}`);
  else {
    lines.push(
      `service:  ${s.service.name} ${s.service.image.replace(/:([0-9a-f]{12})[0-9a-f]*/, ':$1')}, ${s.service.running} of ${s.service.replicas} task(s) running   manager: ${s.manager}`,
    );
    if (s.service.update) lines.push(`update:   ${s.service.update.state}${s.service.update.message ? ` (${s.service.update.message})` : ''}`);
    lines.push(
      `health:   ${s.service.healthcheck ? `derived by boxship: ${s.service.healthcheck.slice(1).join(' ')}` : 'the image\'s HEALTHCHECK, if it has one (else only "running")'}`,
    );
  }
  if (s.canary)
    lines.push(
      `canary:   ${s.canary.name} ${s.canary.image}, ${s.canary.running} of ${s.canary.replicas} task(s) running (promote: boxship rollout; abort: boxship rollback)`,
    );
  lines.push(`current:  ${s.current ?? '-'}`, `previous: ${s.previous ?? '-'}`);
  if (s.lock)
    lines.push(`lock:     held by ${s.lock.who} running "${s.lock.command}" since ${s.lock.time}${s.lock.stale ? ` (INTERRUPTED RUN: ${s.lock.stale})` : ''}`);
  for (const n of s.nodes) {
    lines.push('', `${n.host}  node ${n.node} (${n.role}, ${n.availability}, ${n.state})`);
    lines.push(`  proxy:    ${n.proxy}${n.mode === 'maintenance' ? ' (MAINTENANCE: every request gets 503)' : ''}`);
    if (n.tasks.length === 0) lines.push('  tasks:    none');
    for (const t of n.tasks) lines.push(`  ${t.task.padEnd(24)} ${short(t.tag).padEnd(12)} ${t.health}${t.service !== s.service?.name ? '  (canary)' : ''}`);
  }
  for (const u of s.unreachable) lines.push('', `${u.host}`, `  unreachable: ${u.error}`);
  return `${lines.join('\n')}\n`;
}
