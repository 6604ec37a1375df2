/**
 * rollout / rollback / canary / maintenance / locks against two simulated hosts with real Caddy proxies, under a
 * bounded keep-alive load on loopback through the published proxy ports.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { toShell } from '../../src/hosts/command.js';
import { missingImage, runInstance } from '../../src/rollout/instance-commands.js';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { startLoad } from '../helpers/load.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, wipeHost, type RunResult } from '../helpers/run.js';

interface StatusJson {
  host: string;
  mode: string;
  current?: string;
  previous?: string;
  instances: { name: string; tag: string; health: string }[];
  lock: unknown;
}

const ports = HOSTS.map((h) => h.httpPort);
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

async function status(app: ExampleApp): Promise<StatusJson[]> {
  const r = await boxship(['status', '--json'], { cwd: app.dir });
  ok(r);
  return jsonOutput<StatusJson[]>(r);
}

async function tagsServing(app: ExampleApp): Promise<string[]> {
  return (await status(app)).flatMap((h) => h.instances.map((i) => i.tag)).sort();
}

async function release(app: ExampleApp, version: string): Promise<string> {
  const sha = app.bumpVersion(version);
  ok(await boxship(['release'], { cwd: app.dir }));
  return sha;
}

/** Runs a boxship command while the load runs, and returns both. */
async function underLoad(app: ExampleApp, args: string[]) {
  // Every other request a POST with a JSON body: those are not retried on another instance the way GETs are.
  const load = startLoad(ports, { clients: 3, maxSeconds: 240, post: true });
  await new Promise((r) => setTimeout(r, 500));
  const result = await boxship(args, { cwd: app.dir });
  await new Promise((r) => setTimeout(r, 500));
  const stats = await load.stop();
  return { result, stats };
}

async function get(port: number, path = '/', headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('rollout behind Caddy', () => {
  let app: ExampleApp;
  let v1: string;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    app.writeConfig({ instances: 2 });
    app.commit('two instances per host');
    v1 = await release(app, '1');
    ok(await boxship(['rollout'], { cwd: app.dir }));
    expect(await tagsServing(app)).toEqual([v1, v1, v1, v1]);
  });

  it('--plan prints the commands per host and changes nothing', async () => {
    const r = await boxship(['rollout', '--sha', v1.slice(0, 8), '--plan'], { cwd: app.dir });
    ok(r);
    expect(r.stdout).toContain('Moves: none, every instance already runs it');
    const v2 = await release(app, 'plan');
    const p = await boxship(['rollout', '--plan'], { cwd: app.dir });
    ok(p);
    expect(p.stdout).toContain(`${HOSTS[0].address} slot 1: ${v1.slice(0, 12)} -> ${v2.slice(0, 12)} as green`);
    expect(p.stdout).toMatch(/docker run -d --pull never --name hello-1\.next --network boxship-hello --network-alias hello-1-green/);
    // What a run does after the check: hand the slot over, drain the old instance in the background; it does not wait
    // for the drains (traffic has moved) unless --wait asks it to.
    expect(p.stdout).toContain('# hand hello-1 over to hello-1.next');
    expect(p.stdout).toContain('# drain hello-1.old-blue in the background');
    expect(p.stdout).not.toMatch(/# wait for \d+ old instance\(s\) to finish draining/);
    const waiting = await boxship(['rollout', '--plan', '--wait'], { cwd: app.dir });
    ok(waiting);
    expect(waiting.stdout).toMatch(/# wait for 2 old instance\(s\) to finish draining/);
    // Host preparation is part of the plan too, and the env file's content (it may hold secrets) is not shown.
    expect(p.stdout).toMatch(/# write the app env file \(mode 0600\) \(\d+ bytes on stdin, not shown\)/);
    expect(await tagsServing(app)).toEqual([v1, v1, v1, v1]);
  });

  it('swaps 2 instances per host under load with 0 failed requests', async () => {
    const v2 = await release(app, '2');
    const { result, stats } = await underLoad(app, ['rollout']);
    ok(result);
    expect(stats.failures).toEqual([]);
    expect(stats.failed).toBe(0);
    expect(stats.postRequests).toBeGreaterThan(100);
    expect(stats.postNotOk).toBe(0);
    expect(stats.requests).toBeGreaterThan(500);
    expect(stats.versions['2']).toBeGreaterThan(0);
    expect(await tagsServing(app)).toEqual([v2, v2, v2, v2]);
    const s = await status(app);
    expect(s.map((h) => h.current)).toEqual([v2, v2]);
    expect(s.every((h) => h.instances.every((i) => i.health === 'healthy'))).toBe(true);
  });

  it('rolls back automatically when a new instance fails its health check (exit 1, 0 failed requests)', async () => {
    const before = await tagsServing(app);
    const file = join(app.dir, 'server.js');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace(/const VERSION = '[^']*';/, "const VERSION = 'bad';\nprocess.env.HEALTH_FAIL = '1';"));
    app.commit('a release whose health check fails');
    ok(await boxship(['release'], { cwd: app.dir }));
    writeFileSync(file, good); // later releases are good again
    app.commit('fix the health check');
    const { result, stats } = await underLoad(app, ['rollout']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('failed its health check');
    expect(result.stderr).toContain('Rolled back');
    expect(stats.failed).toBe(0);
    expect(stats.versions.bad ?? 0).toBe(0);
    expect(await tagsServing(app)).toEqual(before);
  });

  it('rolls back to the previous release without shipping anything', async () => {
    const v3 = await release(app, '3');
    ok(await boxship(['rollout'], { cwd: app.dir }));
    expect(await tagsServing(app)).toEqual([v3, v3, v3, v3]);
    const since = Math.floor(Date.now() / 1000);
    const { result, stats } = await underLoad(app, ['rollback']);
    ok(result);
    expect(result.stdout).toContain('To undo');
    expect(stats.failed).toBe(0);
    expect(stats.postNotOk).toBe(0);
    const served = await tagsServing(app);
    expect(new Set(served).size).toBe(1);
    expect(served[0]).not.toBe(v3);
    for (const h of HOSTS) {
      const loads = await onHost(h.container, `docker events --since ${since} --until $(date +%s) --filter type=image --filter event=load --format '{{.ID}}'`);
      expect(loads.trim()).toBe('');
    }
    ok(await boxship(['rollout', '--sha', v3], { cwd: app.dir }));
  });

  it('moves only N instances with --canary N, then promotes on the next rollout', async () => {
    const current = (await tagsServing(app))[0]!;
    const v4 = await release(app, '4');
    const canary = await boxship(['rollout', '--canary', '1'], { cwd: app.dir });
    ok(canary);
    expect(canary.stdout).toContain('Canary: 1 of 4 instances');
    expect(await tagsServing(app)).toEqual([current, current, current, v4].sort());
    const text = await boxship(['status'], { cwd: app.dir });
    expect(text.stdout).toContain('(canary)');
    ok(await boxship(['rollout'], { cwd: app.dir }));
    expect(await tagsServing(app)).toEqual([v4, v4, v4, v4]);
  });

  it('aborts a canary with rollback', async () => {
    const stable = (await tagsServing(app))[0]!;
    const v5 = await release(app, '5');
    ok(await boxship(['rollout', '--canary', '2'], { cwd: app.dir }));
    expect((await tagsServing(app)).filter((t) => t === v5)).toHaveLength(2);
    const r = await boxship(['rollback'], { cwd: app.dir });
    ok(r);
    expect(await tagsServing(app)).toEqual([stable, stable, stable, stable]);
    expect((await status(app)).map((h) => h.current)).toEqual([stable, stable]);
  });

  it('refuses a concurrent rollout and names the holder of the lock', async () => {
    const v6 = await release(app, '6');
    const first = boxship(['rollout'], { cwd: app.dir });
    for (let i = 0; i < 200; i++) {
      if ((await onHost(HOSTS[0].container, 'test -d /root/.boxship/hello/lock && echo held || true')).trim() === 'held') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const second = await boxship(['rollout'], { cwd: app.dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/hello is locked by .+ running "boxship rollout" since/);
    ok(await first);
    expect(await tagsServing(app)).toEqual([v6, v6, v6, v6]);
    const audit = await onHost(HOSTS[0].container, 'cat /root/.boxship/hello/audit.log');
    expect(audit).toContain(`rollout to ${v6} complete`);
  });

  it('exits 2 with what to do next when the automatic rollback fails too', async () => {
    const stable = (await tagsServing(app))[0]!;
    const a = HOSTS[0].container;
    const stableId = (await onHost(a, `docker image inspect --format '{{.Id}}' hello:${stable}`)).trim();
    // A release that fails its health check only in slot 2: slot 1 moves first, then slot 2 fails.
    const file = join(app.dir, 'server.js');
    const good = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      good.replace(/const VERSION = '[^']*';/, "const VERSION = 'half';\nif (process.env.BOXSHIP_INSTANCE === 'hello-2') process.env.HEALTH_FAIL = '1';"),
    );
    app.commit('fails in slot 2 only');
    ok(await boxship(['release'], { cwd: app.dir }));
    writeFileSync(file, good);
    app.commit('fix slot 2');
    const run = boxship(['rollout'], { cwd: app.dir });
    // While slot 2's new instance is being checked, take away the image that putting slot 1 back needs.
    let untagged = false;
    for (let i = 0; i < 600 && !untagged; i++) {
      if ((await onHost(a, "docker ps --format '{{.Names}}'")).split('\n').includes('hello-2.next')) {
        await onHost(a, `docker image rm -f hello:${stable} >/dev/null 2>&1; true`);
        untagged = (await onHost(a, `docker image inspect hello:${stable} >/dev/null 2>&1 && echo tagged || echo gone`)).trim() === 'gone';
      } else await new Promise((r) => setTimeout(r, 100));
    }
    expect(untagged).toBe(true);
    const r = await run;
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('failed its health check');
    expect(r.stderr).toContain('The automatic rollback failed too');
    // The start that needed the removed image failed at once, naming host and image, with no registry lookup.
    expect(r.stderr).toContain(`${HOSTS[0].address}: image hello:${stable} is not on the host (boxship never pulls: docker run --pull never)`);
    expect(r.stderr).not.toMatch(/pull access denied|Pulling from|registry-1\.docker\.io/);
    expect(r.stderr).toContain(`Instances not put back:\n  ${HOSTS[0].address} slot 1: should run`);
    expect(r.stderr).toContain('What to do next');
    // The lock is not left behind, and following the advice recovers.
    expect((await onHost(a, 'test -d /root/.boxship/hello/lock && echo held || echo free')).trim()).toBe('free');
    await onHost(a, `docker tag ${stableId} hello:${stable}`);
    ok(await boxship(['rollback', '--to', stable], { cwd: app.dir }));
    expect(await tagsServing(app)).toEqual([stable, stable, stable, stable]);
  });

  it('maintenance on answers 503 + Retry-After + backoff header everywhere, survives a proxy restart, and turns off', async () => {
    ok(await boxship(['maintenance', 'on', '--retry-after', '30', '--message', 'Back at noon'], { cwd: app.dir }));
    for (const port of ports) {
      const r = await get(port);
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('30');
      expect(r.headers.get('x-backoff')).toBe('30');
      expect(r.body).toContain('Back at noon');
      const j = await get(port, '/', { Accept: 'application/json' });
      expect(JSON.parse(j.body)).toMatchObject({ message: 'Back at noon', retry_after: 30 });
      expect((await get(port, '/__boxship/health')).status).toBe(200);
    }
    await onHost(HOSTS[0].container, 'docker restart hello-proxy >/dev/null');
    let afterRestart = 0;
    for (let i = 0; i < 50 && afterRestart !== 503; i++) {
      afterRestart = await get(ports[0]!).then(
        (r) => r.status,
        () => 0,
      );
      if (afterRestart !== 503) await new Promise((r) => setTimeout(r, 200));
    }
    expect(afterRestart).toBe(503);
    expect((await status(app)).map((h) => h.mode)).toEqual(['maintenance', 'maintenance']);
    ok(await boxship(['maintenance', 'off'], { cwd: app.dir }));
    for (const port of ports) expect((await get(port)).status).toBe(200);
  });

  it('with 1 instance per host answers only 200 or 503 with Retry-After during a rollout', async () => {
    app.writeConfig({ instances: 1 });
    app.commit('one instance per host');
    ok(await boxship(['setup'], { cwd: app.dir }));
    const v7 = await release(app, '7');
    const { result, stats } = await underLoad(app, ['rollout']);
    ok(result);
    expect(stats.failures).toEqual([]);
    expect(stats.nonOkWithoutRetryAfter).toBe(0);
    expect(await tagsServing(app)).toEqual([v7, v7]);
  });

  it('starts instances with --pull never: a missing image fails at once on every engine, without a registry lookup', async () => {
    const config = parseConfig(readFileSync(join(app.dir, 'boxship.yml'), 'utf8'), join(app.dir, 'boxship.yml'));
    for (const h of HOSTS) {
      const missing = 'f'.repeat(40);
      const cmd = runInstance(config, {
        host: h.address,
        slot: 9,
        tag: missing,
        colour: 'blue',
        name: 'hello-9',
        stateDirAbs: '/root/.boxship/hello',
        sha: missing,
        restart: 'no',
      });
      const started = Date.now();
      const out = await onHost(h.container, `${toShell(cmd)} 2>&1; echo "exit=$?"`);
      expect(out, h.name).toMatch(/exit=[1-9]/);
      expect(out, h.name).toMatch(/No such image: hello:f{40}/);
      expect(out, h.name).not.toMatch(/pull access denied|Pulling from|registry-1\.docker\.io/);
      expect(Date.now() - started, h.name).toBeLessThan(5000);
      expect(missingImage(h.address, `hello:${missing}`, out)?.message).toBe(
        `${h.address}: image hello:${missing} is not on the host (boxship never pulls: docker run --pull never)`,
      );
      expect((await onHost(h.container, 'docker ps -aq --filter name=hello-9')).trim(), h.name).toBe('');
    }
  });

  it('refuses an unknown release with exit 2 and changes nothing', async () => {
    const before = await tagsServing(app);
    const r = await boxship(['rollout', '--sha', 'deadbeef'], { cwd: app.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('release "deadbeef" is not present on every host');
    expect(await tagsServing(app)).toEqual(before);
    expect((await onHost(HOSTS[0].container, 'test -d /root/.boxship/hello/lock && echo held || echo free')).trim()).toBe('free');
  });
});
