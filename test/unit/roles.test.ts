/**
 * Roles beside web: the exact docker commands of a role's container and its health check, the plan of what moves,
 * and the rollout orchestration against scripted runners: roles first, one container at a time, and a failure
 * anywhere puts every role container (and web instance) this run moved back on the release it had.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { DryRunRunner } from '../../src/hosts/runner.js';
import { roleSpec, runRole, stopRole, waitRoleHealthy } from '../../src/rollout/role-commands.js';
import { planRoleRevert, planRoles } from '../../src/rollout/roles.js';
import { runRollout } from '../../src/rollout/run.js';
import { findRole, roleHosts } from '../../src/config/roles.js';
import { oneOffRun } from '../../src/exec/commands.js';
import { listRoleLogSources, parseLogSources } from '../../src/logs/commands.js';
import { hostStatus } from '../../src/rollout/status.js';
import { renderHostStatus } from '../../src/cli/render/status.js';
import { containerLine, hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-roles-run-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  [
    'service: hello',
    'hosts: [h1]',
    'instances: 2',
    'app: { port: 3000, env: { QUEUE: web }, drain_seconds: 2, stop_timeout_seconds: 10, volumes: { data: /data } }',
    'healthcheck: { path: /health, interval: 1s, retries: 3 }',
    'roles:',
    '  worker:',
    '    cmd: node server.js --worker',
    '    env: { QUEUE: jobs }',
    '    healthcheck: { cmd: [test, -f, /tmp/ready] }',
    '    stop_signal: INT',
    '  cron:',
    '    cmd: [node, cron.js]',
    '    instances: 2',
  ].join('\n'),
  join(dir, 'boxship.yml'),
);
const [worker, cron] = config.roles!;
const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

function roleLine(name: string, role: string, slot: number, tag: string, spec: string, running = true): string {
  const labels = {
    'dev.boxship.service': 'hello',
    'dev.boxship.tag': tag,
    'dev.boxship.role': role,
    'dev.boxship.role-slot': String(slot),
    'dev.boxship.spec': spec,
  };
  return JSON.stringify({ name: `/${name}`, labels, running });
}

const ROLES_ON_OLD = [
  roleLine('hello-worker-1', 'worker', 1, OLD, roleSpec(config, worker!, 'h1')),
  roleLine('hello-cron-1', 'cron', 1, OLD, roleSpec(config, cron!, 'h1')),
  roleLine('hello-cron-2', 'cron', 2, OLD, roleSpec(config, cron!, 'h1')),
];

/** A host whose web slots and role containers all run OLD; every command succeeds unless a test says otherwise. */
function host(roles = ROLES_ON_OLD): ScriptedRunner {
  return new ScriptedRunner(hostConfig('h1'), [
    {
      match: /^list the hello instances$/,
      answer: { stdout: [containerLine('hello', 'hello-1', OLD, 1, 'blue'), containerLine('hello', 'hello-2', OLD, 2, 'blue')].join('\n') },
    },
    { match: /^list the hello role containers$/, answer: { stdout: roles.join('\n') } },
  ]);
}

const HEALTH: Record<string, string> = { worker: 'its health command (test -f /tmp/ready) (up to 3s)', cron: 'still running after 5s (up to 5s)' };

/** What one role move runs, in order: start beside the live one, its health, the hand-over, the old one's stop. */
function moveWhys(role: string, slot: number, tag: string): string[] {
  const live = `hello-${role}-${slot}`;
  return [
    `start ${live}.next (${role}) on ${tag}`,
    `wait until ${live}.next is healthy: ${HEALTH[role]}`,
    `hand ${live} over to ${live}.next`,
    `stop ${live}.old (up to 10s), then remove it`,
  ];
}

function context(h: ScriptedRunner): DeployContext {
  return { config, hosts: [h], who: 'tester@here', command: 'boxship rollout', report: () => {} };
}

describe('role commands', () => {
  it("starts a role's container from the release's image with its command, the app's env file and volumes, its env and stop signal, and no proxy alias", () => {
    const c = runRole(config, worker!, { host: 'h1', slot: 1, tag: NEW, name: 'hello-worker-1.next', stateDirAbs: '/root/.boxship/hello', restart: 'no' });
    // Every word exact, in order (none of them has a space).
    expect(c.argv.join(' ')).toBe(
      [
        'docker run -d --pull never --name hello-worker-1.next --network boxship-hello',
        `--label dev.boxship.service=hello --label dev.boxship.tag=${NEW} --label dev.boxship.role=worker`,
        `--label dev.boxship.role-slot=1 --label dev.boxship.spec=${roleSpec(config, worker!, 'h1')}`,
        '--restart no --stop-timeout 10 --stop-signal SIGINT --env-file /root/.boxship/hello/app.env',
        `-e BOXSHIP_SHA=${NEW} -e BOXSHIP_INSTANCE=hello-worker-1 -e BOXSHIP_ROLE=worker -e QUEUE=jobs`,
        `-v /root/.boxship/hello/volumes/data:/data hello:${NEW} node server.js --worker`,
      ].join(' '),
    );
    expect(c.effect).toBe('write');
  });

  it('gives another spec label when the command, env or stop signal change (the container is started anew)', () => {
    const base = roleSpec(config, worker!, 'h1');
    expect(roleSpec(config, { ...worker!, cmd: ['node', 'other.js'] }, 'h1')).not.toBe(base);
    expect(roleSpec(config, { ...worker!, env: { QUEUE: 'other' } }, 'h1')).not.toBe(base);
    expect(roleSpec(config, { ...worker!, stopSignal: 'SIGTERM' }, 'h1')).not.toBe(base);
    expect(roleSpec(config, { ...worker! }, 'h1')).toBe(base);
  });

  it('checks health by docker exec of its command within retries x interval, or by still running after running_seconds', () => {
    const byCmd = waitRoleHealthy(config, worker!, 'hello-worker-1.next');
    expect(byCmd.why).toBe('wait until hello-worker-1.next is healthy: its health command (test -f /tmp/ready) (up to 3s)');
    expect(byCmd.argv.slice(-7)).toEqual(['hello-worker-1.next', '0.25', '2', '3000', 'test', '-f', '/tmp/ready']);
    expect(byCmd.argv.join(' ')).toContain('timeout "$probe" docker exec "$name" "$@"');
    const byRunning = waitRoleHealthy(config, cron!, 'hello-cron-1');
    expect(byRunning.why).toBe('wait until hello-cron-1 is healthy: still running after 5s (up to 5s)');
    expect(byRunning.argv.slice(-4)).toEqual(['hello-cron-1', '0.25', '0', '5000']);
    expect(byRunning.timeoutMs).toBe(35_000);
    expect(stopRole('hello-worker-1.old', 10).argv.slice(-2)).toEqual(['hello-worker-1.old', '10']);
  });
});

describe('planRoles', () => {
  it('moves every role container not on the target, fills empty slots, and lists what boxship.yml no longer asks for', () => {
    const containers = [
      { name: 'hello-worker-1', role: 'worker', slot: 1, tag: NEW, spec: roleSpec(config, worker!, 'h1'), running: true },
      { name: 'hello-cron-1', role: 'cron', slot: 1, tag: OLD, spec: roleSpec(config, cron!, 'h1'), running: true },
      { name: 'hello-cron-3', role: 'cron', slot: 3, tag: OLD, spec: '', running: true },
      { name: 'hello-mailer-1', role: 'mailer', slot: 1, tag: OLD, spec: '', running: true },
      { name: 'hello-cron-2.next', role: 'cron', slot: 2, tag: NEW, spec: '', running: false },
    ];
    const { moves, extra } = planRoles(config, [{ host: 'h1', containers }], NEW);
    expect(moves).toEqual([
      { host: 'h1', role: 'cron', slot: 1, from: OLD, to: NEW },
      { host: 'h1', role: 'cron', slot: 2, from: null, to: NEW },
    ]);
    expect(extra).toEqual([
      { host: 'h1', name: 'hello-cron-3' },
      { host: 'h1', name: 'hello-mailer-1' },
    ]);
    expect(planRoleRevert(moves)).toEqual([
      { host: 'h1', role: 'cron', slot: 2, from: NEW, to: '' },
      { host: 'h1', role: 'cron', slot: 1, from: NEW, to: OLD },
    ]);
  });

  it('with a canary, moves per role only enough containers to have N of them on the target across the fleet', () => {
    const spec = (r: typeof worker, h: string) => roleSpec(config, r!, h);
    const two = { ...config, roles: [{ ...cron!, hosts: ['h1', 'h2'] }] };
    const fleet = (firstTag: string) => [
      {
        host: 'h1',
        containers: [1, 2].map((slot) => ({
          name: `hello-cron-${slot}`,
          role: 'cron',
          slot,
          tag: slot === 1 ? firstTag : OLD,
          spec: spec(cron, 'h1'),
          running: true,
        })),
      },
      { host: 'h2', containers: [1, 2].map((slot) => ({ name: `hello-cron-${slot}`, role: 'cron', slot, tag: OLD, spec: spec(cron, 'h2'), running: true })) },
    ];
    expect(planRoles(two, fleet(OLD), NEW, { canary: 1 }).moves).toEqual([{ host: 'h1', role: 'cron', slot: 1, from: OLD, to: NEW }]);
    // One already on the target counts toward N, on whichever host it runs.
    expect(planRoles(two, fleet(NEW), NEW, { canary: 1 }).moves).toEqual([]);
    expect(planRoles(two, fleet(NEW), NEW, { canary: 3 }).moves).toEqual([
      { host: 'h1', role: 'cron', slot: 2, from: OLD, to: NEW },
      { host: 'h2', role: 'cron', slot: 1, from: OLD, to: NEW },
    ]);
    expect(planRoles(two, fleet(NEW), NEW, { canary: 0 }).moves).toEqual([]);
    expect(planRoles(two, fleet(NEW), NEW).moves).toHaveLength(3);
  });

  it('starts a container anew on the same release when its settings changed', () => {
    const containers = [{ name: 'hello-worker-1', role: 'worker', slot: 1, tag: NEW, spec: 'other', running: true }];
    const one = { ...config, roles: [worker!] };
    expect(planRoles(one, [{ host: 'h1', containers }], NEW).moves).toEqual([{ host: 'h1', role: 'worker', slot: 1, from: NEW, to: NEW }]);
  });
});

describe('runRollout with roles', () => {
  it('moves the roles first, one container at a time (start beside, healthy, hand over, stop the old), then web', async () => {
    const h = host();
    const outcome = await runRollout(context(h), { target: NEW, kind: 'rollout' });
    expect(outcome).toMatchObject({ kind: 'done', complete: true, roles: [{ role: 'worker' }, { role: 'cron', slot: 1 }, { role: 'cron', slot: 2 }] });
    const whys = h.whys();
    expect(whys.slice(0, 15)).toEqual([
      'list the hello instances',
      'list the hello role containers',
      ...moveWhys('worker', 1, NEW),
      ...moveWhys('cron', 1, NEW),
      ...moveWhys('cron', 2, NEW),
      `start hello-1.next (green) on ${NEW}`,
    ]);
    expect(whys).toContain(`record that ${NEW} is serving`);
  });

  it("a role container failing its health check is removed and the roles moved before it go back; web is not touched (exit 1's outcome)", async () => {
    const h = host().on({
      match: /^wait until hello-cron-2\.next is healthy/,
      answer: {
        code: 3,
        stderr:
          'hello-cron-2.next exited with code 1 before it was healthy\nfirst error line: Error: REDIS_URL is not set\nlast lines of hello-cron-2.next:\n  x',
      },
    });
    const outcome = await runRollout(context(h), { target: NEW, kind: 'rollout' });
    expect(outcome.kind).toBe('rolled-back');
    if (outcome.kind !== 'rolled-back') return;
    expect(outcome.error.message).toMatch(
      /^h1: hello-cron-2 \(role cron\) on bbbbbbbbbbbb failed its health check \(still running after 5s, up to 5s\): hello-cron-2.next exited with code 1/,
    );
    expect(outcome.error.message).toContain('Error: REDIS_URL is not set');
    expect(outcome.roles?.map((m) => `${m.role}-${m.slot}`)).toEqual(['worker-1', 'cron-1']);
    const whys = h.whys();
    expect(whys.slice(whys.indexOf('wait until hello-cron-2.next is healthy: still running after 5s (up to 5s)') + 1)).toEqual([
      'remove hello-cron-2.next',
      ...moveWhys('cron', 1, OLD),
      ...moveWhys('worker', 1, OLD),
    ]);
    expect(whys.filter((w) => w.startsWith('start hello-1') || w.startsWith('start hello-2'))).toEqual([]);
    expect(whys).not.toContain(`record that ${NEW} is serving`);
  });

  it('a web instance failing its health check puts back the web instances and then every role container moved before them', async () => {
    const h = host().on({
      match: /^wait until hello-2\.next passes/,
      answer: { code: 4, stderr: 'http://hello-2-green:3000/health did not answer 2xx within 3s' },
    });
    const outcome = await runRollout(context(h), { target: NEW, kind: 'rollout' });
    expect(outcome).toMatchObject({ kind: 'rolled-back', moved: [{ slot: 1 }] });
    const starts = h.whys().filter((w) => w.startsWith('start'));
    expect(starts.slice(-4)).toEqual([
      `start hello-1.next (blue) on ${OLD}`,
      `start hello-cron-2.next (cron) on ${OLD}`,
      `start hello-cron-1.next (cron) on ${OLD}`,
      `start hello-worker-1.next (worker) on ${OLD}`,
    ]);
  });

  it('a role slot that had no container is emptied again on rollback; a failed put-back names the role containers left', async () => {
    const h = host([ROLES_ON_OLD[0]!, ROLES_ON_OLD[1]!])
      .on({ match: /^wait until hello-2\.next passes/, answer: { code: 4, stderr: 'no 2xx' } })
      .on({ match: new RegExp(`^start hello-worker-1\\.next \\(worker\\) on ${OLD}`), answer: { code: 125, stderr: 'no space left on device' } });
    const outcome = await runRollout(context(h), { target: NEW, kind: 'rollout' });
    expect(h.whys()).toContain('stop hello-cron-2 (up to 10s), then remove it');
    expect(outcome.kind).toBe('rollback-failed');
    if (outcome.kind !== 'rollback-failed') return;
    expect(outcome.rollbackError.message).toContain('no space left on device');
    expect(outcome.stuckRoles).toEqual([{ host: 'h1', role: 'worker', slot: 1, from: NEW, to: OLD }]);
  });

  it('a canary moves N containers of each role and N web instances; the promoting rollout moves the rest', async () => {
    const h = host();
    const outcome = await runRollout(context(h), { target: NEW, kind: 'rollout', canary: 1 });
    expect(outcome).toMatchObject({
      kind: 'done',
      complete: false,
      remaining: 1,
      rolesRemaining: 1,
      roles: [
        { role: 'worker', slot: 1 },
        { role: 'cron', slot: 1 },
      ],
    });
    expect(h.whys().filter((w) => w.startsWith('start'))).toEqual([
      `start hello-worker-1.next (worker) on ${NEW}`,
      `start hello-cron-1.next (cron) on ${NEW}`,
      `start hello-1.next (green) on ${NEW}`,
    ]);
    // Not complete: nothing recorded as serving, nothing removed.
    expect(h.whys()).not.toContain(`record that ${NEW} is serving`);
    expect(h.whys().filter((w) => w.startsWith('stop hello-cron-') && !w.includes('.old'))).toEqual([]);
  });
});

describe('status with roles', () => {
  it('lists every role container of the host with its role, slot, release and state, and renders them', async () => {
    const h = host([ROLES_ON_OLD[0]!, roleLine('hello-cron-1', 'cron', 1, NEW, '', false)]);
    const row = await hostStatus(context(h), h);
    if ('error' in row) throw new Error(row.error);
    expect(row.roles).toEqual([
      { name: 'hello-cron-1', role: 'cron', slot: 1, tag: NEW, state: 'stopped' },
      { name: 'hello-worker-1', role: 'worker', slot: 1, tag: OLD, state: 'running' },
    ]);
    const text = renderHostStatus(row);
    expect(text).toContain('  roles:\n');
    expect(text).toMatch(/hello-worker-1 +aaaaaaaaaaaa +worker +running/);
  });
});

describe('logs --role and exec --role', () => {
  it("lists a role's running containers for logs, each line labelled with the container's name", () => {
    const c = listRoleLogSources('hello', 'worker');
    expect(c.argv.slice(-5)).toEqual(['dev.boxship.service', 'hello', 'dev.boxship.role', 'worker', expect.stringContaining('{{.Names}}')]);
    expect(c.effect).toBe('read');
    expect(parseLogSources(`${'c'.repeat(64)}\t\t\thello-worker-2`, 'hello')).toEqual([{ id: 'c'.repeat(64), label: 'hello-worker-2' }]);
  });

  it("runs a one-off as the role's containers run: its env and stop signal, and its command when none is given", () => {
    const c = oneOffRun(config, { host: 'h1', tag: NEW, stateDirAbs: '/s', argv: [], role: worker! });
    expect(c.argv.slice(c.argv.indexOf('--stop-signal')).join(' ')).toBe(
      `--stop-signal SIGINT --env-file /s/app.env -e BOXSHIP_SHA=${NEW} -e BOXSHIP_INSTANCE=hello-worker-exec -e BOXSHIP_ROLE=worker -e QUEUE=jobs -v /s/volumes/data:/data hello:${NEW} node server.js --worker`,
    );
    expect(oneOffRun(config, { host: 'h1', tag: NEW, stateDirAbs: '/s', argv: ['sh'], role: worker! }).argv.at(-1)).toBe('sh');
  });

  it('refuses a role boxship.yml does not have (web is the app: no --role), and a host the role does not run on', () => {
    expect(() => findRole(config, 'mailer')).toThrow(/no role "mailer" in/);
    expect(() => findRole(config, 'web')).toThrow(expect.objectContaining({ hint: 'web is the app itself: leave out --role' }));
    const other = { ...config.hosts[0]!, name: 'h2' };
    expect(() => roleHosts(config, worker!, [other])).toThrow('role worker does not run on h2');
    expect(roleHosts(config, worker!).map((h) => h.name)).toEqual(['h1']);
  });
});

describe('--plan with roles', () => {
  it('records every role move as commands (the run argv included) and changes nothing on the host', async () => {
    const real = host();
    const dry = new DryRunRunner(real);
    const outcome = await runRollout({ ...context(real), hosts: [dry] }, { target: NEW, kind: 'rollout' });
    expect(outcome).toMatchObject({ kind: 'done', roles: [{ role: 'worker' }, { role: 'cron', slot: 1 }, { role: 'cron', slot: 2 }] });
    expect(real.whys().filter((w) => !w.startsWith('list the hello'))).toEqual([]);
    const planned = dry.describe().join('\n');
    expect(planned).toContain(`start hello-worker-1.next (worker) on ${NEW}`);
    expect(planned).toContain(`--label dev.boxship.role=worker --label dev.boxship.role-slot=1`);
    expect(planned).toContain(`hello:${NEW} node server.js --worker`);
    expect(planned).toContain('stop hello-cron-2.old (up to 10s), then remove it');
  });
});
