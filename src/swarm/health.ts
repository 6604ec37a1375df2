/**
 * What a Swarm rolling update waits for before it moves on (pure). Swarm counts a new task as started only once its
 * container is healthy, and adds it to the service's DNS only then, so the health check is the gate:
 * - the image's own HEALTHCHECK, when it has one;
 * - else one boxship derives from `healthcheck:` (path, port, interval, timeout, retries), run inside the task with
 *   the first HTTP client the image has: curl, wget, node or python3;
 * - else none: Swarm can only wait for the container to be running, which boxship says plainly.
 */
import type { Config } from '../config/types.js';
import { quote } from '../hosts/command.js';

export type HealthTool = 'curl' | 'wget' | 'node' | 'python3';
const HEALTH_TOOLS: readonly HealthTool[] = ['curl', 'wget', 'node', 'python3'];

export type HealthGate = { kind: 'image'; test: string[] } | { kind: 'derived'; tool: HealthTool; command: string } | { kind: 'running' };

/** The health check boxship.yml asks for (path, port, interval, timeout, retries). */
export type HealthSettings = Config['healthcheck'];

/** `docker image inspect --format '{{json .Config.Healthcheck}}'` -> the image's check, if it has a real one. */
export function imageHealthcheck(text: string): string[] | undefined {
  const t = text.trim();
  if (!t || t === 'null') return undefined;
  const hc = JSON.parse(t) as { Test?: string[] | null };
  const test = hc.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return undefined;
  return test;
}

/** The shell command (CMD-SHELL) that asks the app for its health path with `tool`; exit 0 only for a 2xx answer. */
export function healthCommand(tool: HealthTool, h: HealthSettings): string {
  const url = `http://127.0.0.1:${h.port}${h.path}`;
  const seconds = String(Math.max(1, Math.ceil(h.timeoutMs / 1000)));
  switch (tool) {
    case 'curl':
      return `curl -fsS -o /dev/null --max-time ${seconds} ${quote(url)}`;
    case 'wget':
      return `wget -q -O /dev/null -T ${seconds} ${quote(url)}`;
    case 'node':
      return `node -e ${quote('require("http").get(process.argv[1],(r)=>process.exit(r.statusCode>=200&&r.statusCode<300?0:1)).on("error",()=>process.exit(1))')} ${quote(url)}`;
    case 'python3':
      return `python3 -c ${quote(`import sys,urllib.request;urllib.request.urlopen(sys.argv[1],timeout=${seconds})`)} ${quote(url)}`;
  }
}

/** The gate from what the image has: its HEALTHCHECK, else the first tool found (`tools`: output of probeTools). */
export function chooseGate(imageCheck: string[] | undefined, toolsOutput: string | undefined, h: HealthSettings): HealthGate {
  if (imageCheck) return { kind: 'image', test: imageCheck };
  const found = (toolsOutput ?? '')
    .split('\n')
    .map((l) => l.trim())
    .find((l): l is HealthTool => (HEALTH_TOOLS as readonly string[]).includes(l));
  if (found) return { kind: 'derived', tool: found, command: healthCommand(found, h) };
  return { kind: 'running' };
}

const ms = (n: number) => `${Math.round(n)}ms`;

/**
 * `docker service create/update` flags for the gate. The image's own check (or none) is the spec's health check
 * cleared: an empty command and zero timings make the task inherit the image's.
 */
export function healthFlags(gate: HealthGate, h: HealthSettings): string[] {
  if (gate.kind === 'derived') {
    return [
      '--health-cmd',
      gate.command,
      '--health-interval',
      ms(h.intervalMs),
      '--health-timeout',
      ms(h.timeoutMs),
      '--health-retries',
      String(h.retries),
      '--health-start-period',
      '0s',
    ];
  }
  return ['--health-cmd', '', '--health-interval', '0s', '--health-timeout', '0s', '--health-retries', '0', '--health-start-period', '0s'];
}

/** One line for progress and status: what a new task must pass before the update moves on. */
export function describeGate(gate: HealthGate): string {
  if (gate.kind === 'image') return `the image's HEALTHCHECK (${gate.test.slice(1).join(' ')})`;
  if (gate.kind === 'derived') return `a health check derived from healthcheck: (with ${gate.tool} in the image)`;
  return 'only "running": the image has no HEALTHCHECK and no curl, wget, node or python3 to probe healthcheck.path with';
}

/**
 * Seconds Swarm watches each updated task for a failure before it counts the task as a success. With a health
 * check a task is only "running" once healthy, so the default suffices; without one, a crash soon after the start
 * must still count, so the window is the health budget (retries x interval).
 */
export function monitorSeconds(gate: HealthGate, h: HealthSettings): number {
  const budget = Math.ceil((h.retries * h.intervalMs) / 1000);
  return gate.kind === 'running' ? Math.max(5, budget) : 5;
}
