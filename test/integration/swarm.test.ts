/**
 * backend: swarm on a two-node Docker Swarm of simulated hosts (SWARM_HOSTS: manager + worker, Docker 20.10), made
 * here and taken apart after, so the suite can run again and no other suite's hosts are touched. Load goes through
 * both nodes' proxies on loopback, bounded.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { startLoad } from '../helpers/load.js';
import { HOSTS, REPO, SWARM_HOST_SPECS, SWARM_HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, type RunResult } from '../helpers/run.js';
import { makeSwarm, runningTasks, takeSwarmApart, testnetAddress } from '../helpers/swarm.js';

const [manager, worker] = SWARM_HOSTS;
const ports = SWARM_HOSTS.map((h) => h.httpPort);
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const swarmYaml = `backend: swarm\nswarm:\n  manager: ${manager.address}\n  replicas: 4`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function version(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return ((await res.json()) as { version: string }).version;
}

async function ledgerLines(h: (typeof SWARM_HOSTS)[number]): Promise<number> {
  return (await onHost(h.container, 'cat /root/.boxship/hello/releases.jsonl 2>/dev/null || true')).split('\n').filter(Boolean).length;
}

describe('backend: swarm', () => {
  let app: ExampleApp;
  let v1: string;

  beforeAll(async () => {
    await makeSwarm();
    app = makeExampleApp();
  });

  afterAll(async () => {
    // Leave the hosts as they were found: out of any swarm, empty.
    await takeSwarmApart();
  });

  it('a node left out of hosts, and a host outside the swarm, are reported before anything is shipped', async () => {
    app.writeConfig({ hosts: [manager.address, HOSTS[0].address], extraYaml: swarmYaml });
    app.commit('a host outside the swarm, the worker missing');
    const r = await boxship(['release'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("the swarm's nodes and hosts: in");
    expect(r.stderr).toMatch(new RegExp(`swarm node ${worker.name} \\(worker, [0-9.]+, ready, id \\w+\\) is not in hosts`));
    expect(r.stderr).toContain(
      `${HOSTS[0].address} (in hosts) is not a node of the swarm managed by ${manager.address}: its Docker engine is not part of any swarm`,
    );
    expect(r.stdout).not.toMatch(/Built|Ship/);
    expect(await onHost(manager.container, 'docker images -q hello')).toBe('');
    expect(await onHost(worker.container, 'docker images -q hello')).toBe('');
  });

  it('release ships to every node; the first rollout creates the service behind a proxy on each node', async () => {
    app.writeConfig({ hosts: [manager.address, worker.address], extraYaml: swarmYaml });
    app.commit('both nodes');
    v1 = app.bumpVersion('s1');
    ok(await boxship(['release'], { cwd: app.dir }));
    for (const h of SWARM_HOSTS) expect(await onHost(h.container, `docker images -q hello:${v1}`)).not.toBe('');
    const r = await boxship(['rollout'], { cwd: app.dir });
    ok(r);
    expect(r.stdout + r.stderr).toContain('gated on a health check derived from healthcheck: (with node in the image)');
    const tasks = await runningTasks(manager, 'hello');
    expect(tasks.map((t) => t.image)).toEqual(Array(4).fill(`hello:${v1}`));
    expect(new Set(tasks.map((t) => t.node))).toEqual(new Set([manager.name, worker.name]));
    for (const p of ports) expect(await version(p)).toBe('s1');

    const s = await boxship(['status', '--json'], { cwd: app.dir });
    ok(s);
    const status = jsonOutput<{
      backend: string;
      service: { running: number; replicas: number };
      current: string;
      nodes: { node: string; proxy: string; tasks: { tag: string; health: string }[] }[];
    }>(s);
    expect(status.backend).toBe('swarm');
    expect(status.service).toMatchObject({ running: 4, replicas: 4 });
    expect(status.current).toBe(v1);
    expect(status.nodes.map((n) => n.proxy)).toEqual(['running', 'running']);
    expect(status.nodes.flatMap((n) => n.tasks.map((t) => `${t.tag} ${t.health}`))).toEqual(Array(4).fill(`${v1} healthy`));
  });

  it('a release whose health check fails is rolled back by Swarm: exit 1, the old release serving', async () => {
    const file = join(app.dir, 'server.js');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace("if (process.env.HEALTH_FAIL === '1') return false;", 'return false;'));
    app.bumpVersion('bad');
    ok(await boxship(['release'], { cwd: app.dir }));
    const load = startLoad(ports, { clients: 2, maxSeconds: 180, pauseMs: 20, post: true });
    await sleep(500);
    const r = await boxship(['rollout'], { cwd: app.dir });
    await sleep(500);
    const stats = await load.stop();
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stderr).toContain('Rolled back: Swarm put the previous release back on every task');
    expect(r.stderr).toMatch(/task hello\.\d+ on \S+: it did not pass its health check/);
    expect((await runningTasks(manager, 'hello')).map((t) => t.image)).toEqual(Array(4).fill(`hello:${v1}`));
    for (const p of ports) expect(await version(p)).toBe('s1');
    expect(stats.failed, stats.failures.join('\n')).toBe(0);
    expect(stats.versions.bad).toBeUndefined();
    writeFileSync(file, good);
    app.commit('healthy again');
  });

  it('draining the worker under load loses no request, and its tasks land on the manager', async () => {
    const load = startLoad(ports, { clients: 2, maxSeconds: 180, pauseMs: 20, post: true });
    try {
      await sleep(1000);
      await onHost(manager.container, `docker node update --availability drain ${worker.name} >/dev/null`);
      const until = Date.now() + 90_000;
      let tasks = await runningTasks(manager, 'hello');
      while (!(tasks.length === 4 && tasks.every((t) => t.node === manager.name)) && Date.now() < until) {
        await sleep(1000);
        tasks = await runningTasks(manager, 'hello');
      }
      expect(tasks.map((t) => `${t.node} ${t.image}`)).toEqual(Array(4).fill(`${manager.name} hello:${v1}`));
      await sleep(2000);
    } finally {
      const stats = await load.stop();
      await onHost(manager.container, `docker node update --availability active ${worker.name} >/dev/null`);
      expect(stats.requests).toBeGreaterThan(100);
      expect(stats.failed, stats.failures.join('\n')).toBe(0);
      expect(stats.nonOkWithoutRetryAfter).toBe(0);
    }
  });

  it('rollback returns to the previous release with nothing shipped', async () => {
    const v2 = app.bumpVersion('s2');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
    for (const p of ports) expect(await version(p)).toBe('s2');
    const before = await Promise.all(SWARM_HOSTS.map(ledgerLines));
    const r = await boxship(['rollback'], { cwd: app.dir });
    ok(r);
    expect(r.stdout).toContain(`hello:${v1.slice(0, 12)} serves on all 4 task(s)`);
    expect((await runningTasks(manager, 'hello')).map((t) => t.image)).toEqual(Array(4).fill(`hello:${v1}`));
    expect(await Promise.all(SWARM_HOSTS.map(ledgerLines))).toEqual(before);
    const s = jsonOutput<{ current: string; previous: string }>(await boxship(['status', '--json'], { cwd: app.dir }));
    expect(s).toMatchObject({ current: v1, previous: v2 });
  });

  it('--canary 1 runs a task of the new release beside the service under the same proxies; rollback aborts it', async () => {
    const v3 = app.bumpVersion('s3');
    ok(await boxship(['release'], { cwd: app.dir }));
    const load = startLoad(ports, { clients: 2, maxSeconds: 180, pauseMs: 20, post: true });
    try {
      await sleep(500);
      const c = await boxship(['rollout', '--canary', '1'], { cwd: app.dir });
      ok(c);
      expect(c.stdout).toContain(`Canary: 1 task(s) of hello:${v3.slice(0, 12)} run beside the 4 of the service`);
      expect((await runningTasks(manager, 'hello-canary')).map((t) => t.image)).toEqual([`hello:${v3}`]);
      const seen = new Set<string>();
      // The proxies re-resolve the upstream name every second: the canary's task joins their rotation within a refresh.
      for (let i = 0, until = Date.now() + 15_000; seen.size < 2 && Date.now() < until; i++) {
        seen.add(await version(ports[i % 2]!));
        await sleep(50);
      }
      expect(seen).toEqual(new Set(['s1', 's3']));
      ok(await boxship(['rollback'], { cwd: app.dir }));
      expect(await runningTasks(manager, 'hello-canary')).toEqual([]);
      expect((await runningTasks(manager, 'hello')).map((t) => t.image)).toEqual(Array(4).fill(`hello:${v1}`));
    } finally {
      const stats = await load.stop();
      expect(stats.failed, stats.failures.join('\n')).toBe(0);
    }
  });

  it('maintenance mode answers 503 with Retry-After on every node, and off serves again', async () => {
    ok(await boxship(['maintenance', 'on', '--retry-after', '7', '--message', 'swarm upkeep'], { cwd: app.dir }));
    for (const p of ports) {
      const res = await fetch(`http://127.0.0.1:${p}/`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('7');
      expect(res.headers.get('x-backoff')).toBe('7');
      expect(await res.text()).toContain('swarm upkeep');
    }
    ok(await boxship(['maintenance', 'off'], { cwd: app.dir }));
    for (const p of ports) expect(await version(p)).toBe('s1');
  });

  it('a node that joins later gets the serving and previous releases from setup, and a proxy', async () => {
    // The worker is replaced by a fresh engine (no images, a new node ID) that joins the swarm.
    await onHost(manager.container, `docker node update --availability drain ${worker.name} >/dev/null`);
    execFileSync('bash', ['scripts/test-hosts.sh', 'reset', SWARM_HOST_SPECS[1]!], { cwd: REPO, stdio: ['ignore', 2, 2] });
    await onHost(manager.container, `docker node rm --force ${worker.name} >/dev/null`);
    const token = (await onHost(manager.container, 'docker swarm join-token -q worker')).trim();
    await onHost(worker.container, `docker swarm join --advertise-addr ${testnetAddress(worker)} --token ${token} ${testnetAddress(manager)}:2377 >/dev/null`);
    expect(await onHost(worker.container, 'docker images -q hello')).toBe('');

    const { current, previous } = jsonOutput<{ current: string; previous: string }>(await boxship(['status', '--json'], { cwd: app.dir }));
    const r = await boxship(['setup'], { cwd: app.dir });
    ok(r);
    expect(r.stdout + r.stderr).toContain(`shipping hello:${current} (serving release) to ${worker.address}, which lack it`);
    for (const tag of [current, previous]) expect(await onHost(worker.container, `docker images -q hello:${tag}`)).not.toBe('');
    expect(await onHost(worker.container, 'docker ps --format "{{.Names}}"')).toContain('hello-proxy');
    expect(await version(worker.httpPort)).toBe('s1');
  });
});
