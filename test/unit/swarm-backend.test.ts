/**
 * The Swarm backend over scripted runners: a plan runs the real orchestration and records every write without
 * running it, the follow loops end on a fake clock (a budget that runs out, a paused update, Ctrl-C) with today's
 * outcomes and exit codes, and what the backend cannot do names what to run instead.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import type { BackendEnv } from '../../src/backend/types.js';
import { NotOnBackendError } from '../../src/backend/unsupported.js';
import { parseConfig } from '../../src/config/load.js';
import type { Command } from '../../src/hosts/command.js';
import type { ExecOptions } from '../../src/hosts/runner.js';
import { swarmBackend } from '../../src/swarm/backend.js';
import { swarmExitCode } from '../../src/swarm/deploy.js';
import { swarmRollout } from '../../src/swarm/rollout.js';
import type { SwarmSession } from '../../src/swarm/session.js';
import type { Clock } from '../../src/util/clock.js';
import { ExitCode } from '../../src/util/errors.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { ScriptedRunner } from '../helpers/scripted-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-swarm-backend-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  ['service: hello', 'backend: swarm', 'hosts: [root@m1, root@w1]', 'app: { port: 3000 }', 'healthcheck: { path: /health }', 'ssh: { config_file: none }'].join(
    '\n',
  ),
  join(dir, 'boxship.yml'),
);
const [mHost, wHost] = config.hosts as [(typeof config.hosts)[0], (typeof config.hosts)[0]];

const V1 = 'a'.repeat(40);
const V2 = 'b'.repeat(40);
const nodeJson = (id: string, hostname: string, role: 'manager' | 'worker') => ({
  ID: id,
  Spec: { Role: role, Availability: 'active', Labels: {} },
  Description: { Hostname: hostname, Platform: { Architecture: 'x86_64', OS: 'linux' }, Engine: {} },
  Status: { State: 'ready', Addr: '10.0.0.1' },
});
const ledger = [V1, V2]
  .map((tag, i) => JSON.stringify({ tag, sha: tag, imageId: `sha256:${i}`, time: `2024-01-0${i + 1}T00:00:00Z`, user: 'me', bytes: 1 }))
  .join('\n');
const serviceJson = (image: string, update?: { State: string; Message?: string; StartedAt: string }) =>
  JSON.stringify([
    {
      Spec: { TaskTemplate: { ContainerSpec: { Image: image, Env: ['PORT=3000'] } }, Mode: { Replicated: { Replicas: 2 } } },
      ...(update ? { UpdateStatus: update } : {}),
    },
  ]);
const task = (slot: number, image: string, current = 'Running 5 seconds ago') =>
  JSON.stringify({ ID: `t${slot}`, Name: `hello.${slot}`, Image: image, Node: 'm1', DesiredState: 'Running', CurrentState: current, Error: '' });

/** A node of a two-node swarm where v1 serves and v1, v2 are on every node. */
function swarmHost(host: typeof mHost, id: string, manager: boolean): ScriptedRunner {
  const r = new ScriptedRunner(host, [
    { match: /^read the swarm state of the engine$/, answer: { stdout: JSON.stringify({ NodeID: id, LocalNodeState: 'active', ControlAvailable: manager }) } },
    { match: /^read the release ledger$/, answer: { stdout: ledger } },
    { match: /^check which releases are still on the host$/, answer: { stdout: `hello:${V1} sha256:0\nhello:${V2} sha256:1\n` } },
  ]);
  if (manager)
    r.on(
      { match: /^list the swarm nodes$/, answer: { stdout: JSON.stringify([nodeJson('n1', 'm1', 'manager'), nodeJson('n2', 'w1', 'worker')]) } },
      { match: /^read the deploy history$/, answer: { stdout: `${JSON.stringify({ tag: V1, time: '2024-01-01T00:00:00Z', who: 'me', kind: 'rollout' })}\n` } },
      { match: /^read the service hello$/, answer: { stdout: serviceJson(`hello:${V1}`) } },
      { match: /^read the service hello-canary$/, answer: { stdout: '[]' } },
      { match: /^read the HEALTHCHECK of/, answer: { stdout: '{"Test":["CMD-SHELL","curl -f http://127.0.0.1:3000/health"]}' } },
    );
  return r;
}

/** Every write a runner was asked to run (a plan must ask for none). */
function spyWrites(r: ScriptedRunner): string[] {
  const writes: string[] = [];
  const exec = r.exec.bind(r);
  r.exec = (cmd: Command, options?: ExecOptions) => {
    if (cmd.effect === 'write') writes.push(cmd.why);
    return exec(cmd, options);
  };
  return writes;
}

function env(events: ProgressEvent[] = []): BackendEnv {
  return {
    step: (_title, work) => work(),
    report: (e) => events.push(e),
    interrupt: { requested: false },
    commandLine: 'boxship test',
    docker: () => Promise.resolve({} as Docker),
    hookIo: { stdout: process.stdout, stderr: process.stderr },
  };
}

const connectTo =
  (...runners: ScriptedRunner[]) =>
  async () => ({ links: runners.map((r) => ({ host: r.name, runner: r })), close: () => {} });

describe('swarm --plan', () => {
  it('a planned rollout records docker service update (and the lock, the env file, the deploy record) and runs no write', async () => {
    const m = swarmHost(mHost, 'n1', true);
    const w = swarmHost(wHost, 'n2', false);
    const writes = [...[m, w].map(spyWrites)];
    const backend = swarmBackend(config, env(), { connect: connectTo(m, w) });
    const r = await backend.deploy({ kind: 'rollout', wanted: V2, plan: true });
    expect(writes.flat()).toEqual([]);
    expect(r).toMatchObject({ backend: 'plan', exitCode: 0 });
    if (r.backend !== 'plan') throw new Error('not a plan');
    expect(r.plan.title).toBe(`rollout hello to ${V2.slice(0, 12)}, a rolling update by Swarm, one task at a time (start-first)`);
    expect(r.plan.notes.join('\n')).toContain('--update-failure-action rollback');
    const manager = r.plan.hosts.find((h) => h.name === 'root@m1')!.steps.join('\n');
    expect(manager).toContain(`# update the service hello to hello:${V2}`);
    expect(manager).toContain(`docker service update --detach --no-resolve-image --image hello:${V2} --replicas 2`);
    expect(manager).toContain('# take the deploy lock');
    expect(manager).toContain(`# record that ${V2} is serving`);
    // Reads ran for real: the plan decided from what the hosts have.
    expect(m.whys()).toContain('read the service hello');
    expect(r.plan.hosts.map((h) => h.name)).toEqual(['root@m1', 'root@w1']);
  });

  it('a planned maintenance and setup run no write either', async () => {
    const m = swarmHost(mHost, 'n1', true);
    const w = swarmHost(wHost, 'n2', false);
    const writes = [m, w].map(spyWrites);
    const backend = swarmBackend(config, env(), { connect: connectTo(m, w) });
    const on = await backend.maintenance({ mode: { kind: 'maintenance', retryAfterSeconds: 30, message: 'soon' }, plan: true });
    const setup = await backend.setup({ plan: true });
    expect(writes.flat()).toEqual([]);
    expect(on).toMatchObject({ backend: 'plan', exitCode: 0, plan: { title: 'maintenance on on 2 nodes' } });
    expect(setup).toMatchObject({ backend: 'plan', exitCode: 0 });
    if (setup.backend !== 'plan') throw new Error('not a plan');
    expect(setup.plan.hosts.find((h) => h.name === 'root@m1')!.steps.join('\n')).toContain('# create the overlay network boxship-hello');
  });
});

/** Time that passes only when the code under test sleeps. */
function fakeClock(): Clock & { slept: number } {
  let t = 1_000_000;
  const c = {
    slept: 0,
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
      c.slept += ms;
    },
  };
  return c;
}

/** A session over one scripted manager (the node check is covered by the session tests). */
function sessionOn(m: ScriptedRunner, interrupt = { requested: false }): SwarmSession {
  const node = {
    id: 'n1',
    hostname: 'm1',
    role: 'manager' as const,
    availability: 'active' as const,
    state: 'ready',
    addr: '',
    os: 'linux',
    arch: 'x86_64',
    labels: {},
    engineLabels: {},
    leader: true,
  };
  const member = { ssh: m, node };
  return {
    config,
    manager: m,
    nodes: [node],
    members: [member],
    targets: [member],
    schedulable: [member],
    unreachable: [],
    warnings: [],
    ctx: { config, hosts: [m], who: 'me', command: 'boxship rollout', report: () => {}, interrupt },
    close: () => {},
  };
}

/** The manager during an update to v2: the service's UpdateStatus answers `update` once asked (after the update). */
function updating(update: { State: string; Message?: string } | undefined, tasks = [task(1, `hello:${V1}`), task(2, `hello:${V1}`)]): ScriptedRunner {
  const m = swarmHost(mHost, 'n1', true);
  let asked = false;
  m.on(
    {
      match: /^update the service hello/,
      answer: () => {
        asked = true;
        return {};
      },
    },
    {
      match: /^read the service hello$/,
      answer: () => ({ stdout: serviceJson(`hello:${asked ? V2 : V1}`, asked && update ? { ...update, StartedAt: '2024-02-01T00:00:00Z' } : undefined) }),
    },
    { match: /^list the tasks of hello$/, answer: { stdout: tasks.join('\n') } },
  );
  return m;
}

describe('swarm env', () => {
  it('refuses a DOCKER_* env variable before anything changes: the docker CLI on the manager reads the values from its environment', async () => {
    const steered = parseConfig(
      [
        'service: hello',
        'backend: swarm',
        'hosts: [root@m1, root@w1]',
        'app: { env: { DOCKER_HOST: "tcp://x:2375", A: b } }',
        'ssh: { config_file: none }',
      ].join('\n'),
      join(dir, 'boxship.yml'),
    );
    const m = swarmHost(mHost, 'n1', true);
    const w = swarmHost(wHost, 'n2', false);
    const writes = [m, w].map(spyWrites);
    const backend = swarmBackend(steered, env(), { connect: connectTo(m, w) });
    await expect(backend.setup({ plan: false })).rejects.toMatchObject({
      message: 'with backend: swarm, DOCKER_HOST cannot be an env variable of the app',
      hint: expect.stringContaining('rename it in app.env or the secrets file'),
    });
    expect(writes.flat()).not.toContain('write the app env file (mode 0600)');
    expect(writes.flat()).not.toContain('create the overlay network boxship-hello');
  });
});

describe('following a swarm update (fake clock)', () => {
  it('an update that never ends within its budget: rollback-failed, exit 2, after the whole budget and no more', async () => {
    const clock = fakeClock();
    const m = updating({ State: 'updating' });
    const o = await swarmRollout(sessionOn(m), V2, { kind: 'rollout' }, m, clock);
    expect(o).toMatchObject({ kind: 'rollback-failed', target: V2 });
    expect(o.kind === 'rollback-failed' && o.error).toMatch(
      /^the update did not end within \d+s \(Swarm's update state: updating; 0 of 2 task\(s\) run hello:b{40}\)$/,
    );
    expect(swarmExitCode(o)).toBe(ExitCode.needsAction);
    // The budget: 2 x max(replicas) x the task budget + 60s; polled once a second.
    expect(clock.slept).toBeGreaterThan(60_000);
    expect(clock.slept % 1000).toBe(0);
  });

  it("a paused update: rollback-failed with Swarm's message, exit 2", async () => {
    const m = updating({ State: 'rollback_paused', Message: 'update rolled back, then paused: task failed' });
    const o = await swarmRollout(sessionOn(m), V2, { kind: 'rollout' }, m, fakeClock());
    expect(o).toMatchObject({ kind: 'rollback-failed', error: 'update rollback_paused: update rolled back, then paused: task failed' });
    expect(swarmExitCode(o)).toBe(ExitCode.needsAction);
  });

  it('rolled back by Swarm: rolled-back, exit 1, naming the failed task', async () => {
    const m = updating({ State: 'rollback_completed', Message: 'rollback completed' }, [
      task(1, `hello:${V1}`),
      task(2, `hello:${V2}`, 'Failed 3 seconds ago'),
    ]);
    const o = await swarmRollout(sessionOn(m), V2, { kind: 'rollout' }, m, fakeClock());
    expect(o).toMatchObject({ kind: 'rolled-back', created: false, canary: false });
    expect(o.kind === 'rolled-back' && o.error).toContain('task hello.2 on m1: it did not pass its health check');
    expect(swarmExitCode(o)).toBe(ExitCode.failed);
  });

  it('interrupted while Swarm updates: interrupted, exit 130, without waiting out the budget', async () => {
    const clock = fakeClock();
    const m = updating({ State: 'updating' });
    const o = await swarmRollout(sessionOn(m, { requested: true }), V2, { kind: 'rollout' }, m, clock);
    expect(o).toEqual({ kind: 'interrupted', target: V2 });
    expect(swarmExitCode(o)).toBe(ExitCode.interrupted);
    expect(clock.slept).toBe(0);
  });

  it('an update Swarm never starts (the spec was already this one) is "unchanged" after 5s', async () => {
    const clock = fakeClock();
    const m = updating(undefined, [task(1, `hello:${V2}`), task(2, `hello:${V2}`)]);
    const o = await swarmRollout(sessionOn(m), V2, { kind: 'rollout' }, m, clock);
    expect(o).toMatchObject({ kind: 'done', action: 'unchanged' });
    expect(clock.slept).toBe(6000);
  });
});

describe('what the swarm backend cannot do', () => {
  it('logs, exec, accessories and remove are refused with the command to run instead', async () => {
    const backend = swarmBackend(config, env(), { connect: connectTo() });
    const logs = backend.logs({ onLine: () => {}, onUnreachable: () => {}, signal: new AbortController().signal });
    await expect(logs).rejects.toBeInstanceOf(NotOnBackendError);
    await expect(logs).rejects.toMatchObject({
      message: 'boxship logs is not available with backend: swarm yet',
      hint: 'on the manager, run: docker service logs --timestamps hello',
    });
    await expect(backend.exec({ argv: ['sh'] }, { stdout: process.stdout, stderr: process.stderr })).rejects.toMatchObject({
      hint: expect.stringContaining('docker exec -it <a task container of hello>'),
    });
    await expect(backend.accessory({ verb: 'up', name: 'db' })).rejects.toBeInstanceOf(NotOnBackendError);
    await expect(backend.remove({ removeData: true })).rejects.toMatchObject({
      message: 'boxship remove is not available with backend: swarm yet',
      hint: 'on the manager, run: docker service rm hello; on each node: docker rm -f hello-proxy; then remove ~/.boxship/hello on the nodes',
    });
  });

  it('releases the lock on the manager only, saying who held it', async () => {
    const m = swarmHost(mHost, 'n1', true);
    m.on({
      match: /^read the deploy lock/,
      answer: { stdout: JSON.stringify({ who: 'ann', command: 'boxship rollout', time: '2024-01-01T00:00:00Z', pid: 1, host: 'x' }) },
    });
    let asked: string[] = [];
    const backend = swarmBackend(config, env(), {
      connect: async (hosts) => {
        asked = hosts.map((h) => h.name);
        return { links: [{ host: m.name, runner: m }], close: () => {} };
      },
    });
    const r = await backend.releaseLock();
    expect(asked).toEqual(['root@m1']);
    expect(r).toEqual({
      exitCode: 0,
      hosts: [{ host: 'root@m1', heldBy: { who: 'ann', command: 'boxship rollout', time: '2024-01-01T00:00:00Z' } }],
      refused: [],
    });
    expect(m.whys()).toEqual(expect.arrayContaining(['release the deploy lock']));
  });
});
