/**
 * Commands that start, check, stop and list the containers of the roles beside web (`roles:` in boxship.yml), pure:
 * they return Command data. A role's container is the release's image with the role's command, on the service
 * network (it reaches the accessories by alias, as web does) but with no alias of its own: the proxy never dials it.
 */
import { createHash } from 'node:crypto';
import type { Config, RoleConfig } from '../config/types.js';
import { type Command, script } from '../hosts/command.js';
import { LABEL, names, shaOfTag } from '../fleet/names.js';
import { accessoryHostArgs, accessoryHostsLabel, envFilePath, healthPolling, listLabelled, parseLabelled, volumeArgs, WAIT_LOOP } from './instance-commands.js';

export interface RoleStart {
  host: string;
  slot: number;
  tag: string;
  /** Container name: the live name for an empty slot, `<live>.next` beside a running one. */
  name: string;
  stateDirAbs: string;
  /** `no` until it has taken over the slot's name (as web's incoming instance: a reboot mid-move brings back only the live one). */
  restart: 'no' | 'unless-stopped';
}

/**
 * What a role's container is started with beyond its release, as a short hash (its `dev.boxship.spec` label): a change
 * of command, env, stop signal or of where it reaches other hosts' accessories starts it anew on the same release.
 */
export function roleSpec(config: Config, role: RoleConfig, host: string): string {
  const what = { cmd: role.cmd, env: role.env, stopSignal: role.stopSignal ?? null, reach: accessoryHostsLabel(config, host) };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

export function runRole(config: Config, role: RoleConfig, spec: RoleStart): Command {
  const s = config.service;
  const argv = ['docker', 'run', '-d', '--pull', 'never', '--name', spec.name, '--network', names.network(s)];
  argv.push('--label', `${LABEL.service}=${s}`, '--label', `${LABEL.tag}=${spec.tag}`, '--label', `${LABEL.role}=${role.name}`);
  argv.push('--label', `${LABEL.roleSlot}=${spec.slot}`, '--label', `${LABEL.spec}=${roleSpec(config, role, spec.host)}`);
  argv.push(...accessoryHostArgs(config, spec.host));
  argv.push('--restart', spec.restart, '--stop-timeout', String(config.app.stopTimeoutSeconds));
  if (role.stopSignal) argv.push('--stop-signal', role.stopSignal);
  argv.push('--env-file', envFilePath(spec.stateDirAbs));
  argv.push('-e', `BOXSHIP_SHA=${shaOfTag(spec.tag)}`, '-e', `BOXSHIP_INSTANCE=${names.role(s, role.name, spec.slot)}`, '-e', `BOXSHIP_ROLE=${role.name}`);
  // Plain settings from boxship.yml (secrets stay in the env file): after it, so a role's value wins over app.env's.
  for (const [k, v] of Object.entries(role.env)) argv.push('-e', `${k}=${v}`);
  argv.push(...volumeArgs(config, spec.stateDirAbs));
  argv.push(names.image(s, spec.tag), ...role.cmd);
  return { argv, why: `start ${spec.name} (${role.name}) on ${spec.tag}`, effect: 'write' };
}

/** How long a role's new container is given to prove healthy, and how often it is asked. */
export function roleHealthBudget(config: Config, role: RoleConfig): { budgetMs: number; stepMs: number; probeSeconds: number } {
  if (role.health.kind === 'running') return { budgetMs: role.health.seconds * 1000, stepMs: 250, probeSeconds: 0 };
  const h = config.healthcheck;
  return healthPolling(h.intervalMs, h.retries, h.timeoutMs);
}

/** The role's health check in words, for progress lines and failures. */
export function describeRoleHealth(role: RoleConfig): string {
  return role.health.kind === 'cmd' ? `its health command (${role.health.cmd.join(' ')})` : `still running after ${role.health.seconds}s`;
}

/**
 * Waits, in one remote command, until the new container is healthy: its health command (docker exec) exits 0, or it
 * is still running once the running time has passed. It fails at once if the container exits (3), or when the time
 * is up (4), printing the check's last output, the app's first error line and its last lines.
 */
export function waitRoleHealthy(config: Config, role: RoleConfig, container: string): Command {
  const { budgetMs, stepMs, probeSeconds } = roleHealthBudget(config, role);
  const check = role.health.kind === 'cmd' ? role.health.cmd : [];
  const cmd = script(
    'write',
    `wait until ${container} is healthy: ${describeRoleHealth(role)} (up to ${budgetMs / 1000}s)`,
    [
      'name=$1 step=$2 probe=$3 budget=$4; shift 4',
      ...WAIT_LOOP,
      // No command: still running at the deadline is healthy. A command: its exit 0 is, within the probe's time.
      '  if [ $# -eq 0 ]; then [ "$(ms)" -ge "$end" ] && exit 0',
      '  else out=$(timeout "$probe" docker exec "$name" "$@" 2>&1) && exit 0; last=$(printf "%s\\n" "$out" | tail -n 1); fi',
      '  [ "$(ms)" -ge "$end" ] && break',
      '  sleep "$step"',
      'done',
      'echo "its health command did not exit 0 within $((budget / 1000))s (last output: ${last:-none})" >&2; why; exit 4',
    ].join('\n'),
    container,
    (stepMs / 1000).toString(),
    String(probeSeconds),
    String(budgetMs),
    ...check,
  );
  return { ...cmd, timeoutMs: budgetMs + probeSeconds * 1000 + 30_000 };
}

/** Stops a role's container with its stop signal, up to `seconds` to finish its job, then removes it. */
export function stopRole(container: string, seconds: number): Command {
  return {
    ...script(
      'write',
      `stop ${container} (up to ${seconds}s), then remove it`,
      'docker stop -t "$2" "$1" >/dev/null 2>&1; docker rm -f "$1" >/dev/null 2>&1; true',
      container,
      String(seconds),
    ),
    timeoutMs: (seconds + 30) * 1000,
  };
}

/** One line per container of a role of the service: name, labels and running state as JSON. */
export function listRoleContainers(service: string): Command {
  return listLabelled(service, LABEL.role, `list the ${service} role containers`);
}

export interface RoleContainer {
  name: string;
  role: string;
  slot: number;
  tag: string;
  spec: string;
  running: boolean;
}

export function parseRoleContainers(text: string): RoleContainer[] {
  return parseLabelled(text).map((c) => ({
    name: c.name,
    role: c.labels[LABEL.role] ?? '',
    slot: Number(c.labels[LABEL.roleSlot]),
    tag: c.labels[LABEL.tag] ?? '',
    spec: c.labels[LABEL.spec] ?? '',
    running: c.running,
  }));
}
