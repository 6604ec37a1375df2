/**
 * What happens to a rollout in the real world, on real hosts: Ctrl-C in the middle, SIGKILL in the middle (the next
 * commands detect and converge), an app that hangs (the health budget is wall time), and a host that reboots.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { BOXSHIP_BIN, HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, rebootHost, wipeHost, type RunResult } from '../helpers/run.js';

interface StatusJson {
  host: string;
  current?: string;
  instances: { name: string; tag: string; health: string }[];
  lock: { stale: string | null } | null;
}

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Container names of the service on a host (running or not). */
const containers = async (c: string) =>
  (await onHost(c, "docker ps -a --filter label=dev.boxship.service=hello --format '{{.Names}}'")).split('\n').filter(Boolean).sort();
/**
 * The service's `.next` and `.old-*` containers once any drain a run left going has ended (old instances finish their
 * requests on the host after the command returns; up to their stop timeout): what a run really left behind.
 */
async function leftovers(c: string): Promise<string[]> {
  // A `.next` is never left to finish on its own: it counts at once.
  const next = (await containers(c)).filter((n) => n.endsWith('.next'));
  if (next.length) return next;
  let left: string[] = [];
  for (let i = 0; i < 60; i++) {
    left = (await containers(c)).filter((n) => /\.(next|old-)/.test(n));
    if (!left.length) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return left;
}
const RUNNING = 'docker ps --filter label=dev.boxship.service=hello --format \'{{.Names}} {{.Label "dev.boxship.tag"}}\'';
const lines = (out: string) => out.split('\n').filter(Boolean).sort();
const running = async (c: string) => lines(await onHost(c, RUNNING));
const lockHeld = async (c: string) => (await onHost(c, 'test -d /root/.boxship/hello/lock && echo held || echo free')).trim() === 'held';

/** Starts `boxship args` and sends `signal` once a `.next` instance exists on the first host. */
function runAndSignal(app: ExampleApp, args: string[], signal: NodeJS.Signals): Promise<RunResult & { signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BOXSHIP_BIN, ...args], { cwd: app.dir, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    const deadline = Date.now() + 120_000;
    const poll = async () => {
      while (!signalled && child.exitCode === null && Date.now() < deadline) {
        if ((await containers(HOSTS[0].container)).some((n) => n.endsWith('.next'))) {
          child.kill(signal);
          signalled = true;
          return;
        }
        await sleep(100);
      }
    };
    void poll();
    child.on('close', (code, sig) => resolve({ code: code ?? (sig === 'SIGKILL' ? 137 : -1), stdout, stderr, signalled }));
  });
}

describe('rollouts that are interrupted, hang or meet a reboot', () => {
  let app: ExampleApp;
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    app.writeConfig({ instances: 2 });
    v1 = app.bumpVersion('1');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
    v2 = app.bumpVersion('2');
    ok(await boxship(['release'], { cwd: app.dir }));
  });

  it('Ctrl-C finishes the move in flight, releases the locks and exits 130, leaving no .next', async () => {
    const r = await runAndSignal(app, ['rollout'], 'SIGINT');
    expect(r.signalled).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('finishing the move in flight');
    expect(r.stderr).toMatch(/Interrupted: \d instance\(s\) moved to/);
    for (const h of HOSTS) {
      expect(await lockHeld(h.container)).toBe(false);
      expect(await leftovers(h.container)).toEqual([]);
    }
    // Every instance runs one of the two releases: the interrupted move either finished or was never started.
    const tags = (await Promise.all(HOSTS.map((h) => running(h.container)))).flat().filter((l) => !l.startsWith('hello-proxy'));
    expect(tags.every((l) => l.endsWith(v1) || l.endsWith(v2))).toBe(true);
  });

  it('after SIGKILL mid-rollout, status reports the interrupted run and rollback converges to the release that served before', async () => {
    const r = await runAndSignal(app, ['rollout'], 'SIGKILL');
    expect(r.signalled).toBe(true);
    expect(await lockHeld(HOSTS[0].container)).toBe(true);

    const s = await boxship(['status'], { cwd: app.dir });
    ok(s);
    expect(s.stdout).toMatch(/INTERRUPTED RUN: its process \d+ on .* is gone/);

    const back = await boxship(['rollback'], { cwd: app.dir });
    ok(back);
    expect(back.stderr).toMatch(/an interrupted run held the lock/);
    for (const h of HOSTS) {
      expect(await lockHeld(h.container)).toBe(false);
      expect(await leftovers(h.container)).toEqual([]);
    }
    const st = jsonOutput<StatusJson[]>(await boxship(['status', '--json'], { cwd: app.dir }));
    expect(st.flatMap((h) => h.instances.map((i) => i.tag))).toEqual([v1, v1, v1, v1]);
    expect(st.every((h) => h.instances.every((i) => i.health === 'healthy'))).toBe(true);
  });

  it('gives a hanging app retries x interval of wall time, then shows why', async () => {
    const file = join(app.dir, 'server.js');
    const good = readFileSync(file, 'utf8');
    const cfg = join(app.dir, 'boxship.yml');
    const goodCfg = readFileSync(cfg, 'utf8');
    // /health never answers; the budget is 4 x 500 ms = 2 s, each probe bounded by a 1 s timeout.
    writeFileSync(
      file,
      good.replace("case '/health':", "case '/health':\n      console.error('Error: database connection pending (health hangs)');\n      return;"),
    );
    writeFileSync(cfg, goodCfg.replace('retries: 20', 'retries: 4').replace('timeout: 2s', 'timeout: 1s'));
    app.commit('a release whose health check hangs');
    ok(await boxship(['release'], { cwd: app.dir }));
    const r = await boxship(['rollout'], { cwd: app.dir, env: { BOXSHIP_DEBUG: '1' } });
    writeFileSync(file, good);
    writeFileSync(cfg, goodCfg);
    app.commit('fix it');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('did not answer 2xx within 2s');
    // The last probe's answer (the proxy's wget: a read timeout) is named, and the warning line reads as a sentence.
    expect(r.stderr).toMatch(/did not answer 2xx within 2s \(last answer: [^)\n]+\)/);
    expect(r.stderr).toMatch(/failed its health check \(\/health on port 3000, up to 2s\): http:\S+ did not answer 2xx within 2s .*; rolling back/);
    expect(r.stderr).not.toMatch(/:\s*;/);
    expect(r.stderr).toContain('first error line: Error: database connection pending');
    expect(r.stderr).not.toContain('sh -c');
    const waited = Number(/wait until hello-1\.next passes \/health \(up to 2s\): exit 4 in (\d+) ms/.exec(r.stderr)?.[1]);
    expect(waited).toBeGreaterThanOrEqual(2000);
    expect(waited).toBeLessThan(2000 + 2000);
  });

  it('a host that reboots brings back the proxy and the serving instances, never a .next', async () => {
    const h = HOSTS[0];
    // Mid-rollout state on purpose: a .next beside the live instances, as a reboot during a move would leave it.
    const tag = (await running(h.container)).find((l) => l.startsWith('hello-1 '))!.split(' ')[1]!;
    await onHost(
      h.container,
      `docker run -d --pull never --name hello-1.next --restart no --network boxship-hello --label dev.boxship.service=hello --label dev.boxship.tag=${v2} --label dev.boxship.slot=1 --label dev.boxship.colour=green --env-file /root/.boxship/hello/app.env hello:${v2} >/dev/null`,
    );
    // The engine comes back, and with it every container whose restart policy says so.
    let names: string[] = [];
    const took = await rebootHost(h.container, async () => {
      names = lines(await onHost(h.container, RUNNING, 10_000));
      return names.length >= 2 && (await onHost(h.container, 'docker ps --format {{.Names}}', 10_000)).includes('hello-proxy');
    });
    console.log(`host back in ${took} ms`);
    expect(names).toEqual([`hello-1 ${tag}`, `hello-2 ${tag}`]);
    const res = await fetch(`http://127.0.0.1:${h.httpPort}/`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    // The next command clears the stopped leftover.
    ok(await boxship(['rollout', '--sha', tag.slice(0, 12)], { cwd: app.dir, env: { BOXSHIP_DEBUG: '1' }, timeoutMs: 120_000 }));
    expect(await leftovers(h.container)).toEqual([]);
  });
});
