/**
 * roles: on a real host: the example's worker (examples/hello/worker.js, no HTTP) runs beside web as two roles, one
 * judged by its health command (docker exec node worker.js --check), one by still running. The worker takes the jobs
 * web queues (POST /jobs) from a Redis accessory and marks each done with its release (GET /jobs/done). A rollout
 * moves both roles to the new release before web; `--canary 1` moves one container of each role and one web instance,
 * `rollback` aborts it; a release whose worker health command fails is rolled back (exit 1): the role already moved
 * goes back, web never changes and keeps serving under load without a failed request.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, makeExampleApp } from '../helpers/example.js';
import { startLoad } from '../helpers/load.js';
import { HOSTS } from '../helpers/paths.js';
import { ensureRedisImage } from '../helpers/redis-image.js';
import { boxship, jsonOutput, onHost, type RunResult, wipeHost } from '../helpers/run.js';

const host = HOSTS[0];
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

// cron does pretend jobs (no queue: its REDIS_HOST is emptied); worker takes the queue's jobs.
const ROLES = [
  'roles:',
  '  cron:',
  '    cmd: node worker.js',
  '    env: { JOB: cron, REDIS_HOST: "" }',
  '    healthcheck: { running_seconds: 2 }',
  '  worker:',
  '    cmd: [node, worker.js]',
  '    instances: 2',
  '    healthcheck: { cmd: [node, worker.js, --check] }',
].join('\n');

const accessory = (image: string) =>
  ['accessories:', '  cache:', `    image: ${image}`, '    port: 6379', '    cmd: [redis-server, --protected-mode, "no", --save, ""]'].join('\n');

const base = () => `http://127.0.0.1:${host.httpPort}`;

/** Queues jobs through the proxy and web, then waits (up to 20 s) until a worker marked every one done; returns who did each. */
async function jobsDone(jobs: string[]): Promise<Record<string, string>> {
  for (const job of jobs) {
    const r = await fetch(`${base()}/jobs`, { method: 'POST', body: job });
    expect(r.status, await r.clone().text()).toBe(202);
  }
  let done: Record<string, string> = {};
  for (let i = 0; i < 80; i++) {
    done = ((await (await fetch(`${base()}/jobs/done`)).json()) as { done: Record<string, string> }).done;
    if (jobs.every((j) => done[j])) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return Object.fromEntries(jobs.map((j) => [j, done[j] ?? 'not done']));
}

/** Name -> release tag of every container of the service on the host, running or not. */
async function containers(): Promise<Record<string, string>> {
  const text = await onHost(
    host.container,
    `docker ps -a --filter label=dev.boxship.service=hello --format '{{.Names}} {{.Label "dev.boxship.tag"}} {{.State}}'`,
  );
  return Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '))
      // Old web instances finish their requests after the command returns (drains.test.ts): not this file's business.
      .filter(([name]) => !name!.includes('.old-') && name !== 'hello-cache')
      .map(([name, tag, state]) => [name!, `${tag}${state === 'running' ? '' : ` (${state})`}`]),
  );
}

describe('roles beside web', () => {
  let app: ExampleApp;
  let v1: string;

  beforeAll(async () => {
    await wipeHost(host.container);
    app = makeExampleApp();
    app.writeConfig({ hosts: [host.address], appYaml: ['  env: { REDIS_HOST: cache }'], extraYaml: `${accessory(ensureRedisImage())}\n${ROLES}` });
    v1 = app.commit('web, two roles and a queue');
    ok(await boxship(['release'], { cwd: app.dir }));
    // deploy starts the missing accessory first: the worker's health needs its queue.
    ok(await boxship(['deploy'], { cwd: app.dir }));
  });

  it("runs each role's containers from the release's image with the role's command and env, beside web", async () => {
    expect(await containers()).toEqual({ 'hello-1': v1, 'hello-cron-1': v1, 'hello-worker-1': v1, 'hello-worker-2': v1 });
    const env = await onHost(host.container, "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' hello-cron-1");
    expect(env).toContain('BOXSHIP_ROLE=cron');
    expect(env).toContain('JOB=cron');
    expect(env).toContain('BOXSHIP_INSTANCE=hello-cron-1');
    const logs = await onHost(host.container, 'docker logs hello-cron-1 2>&1');
    expect(logs).toContain(`cron 1 ${v1.slice(0, 12)}: job 1`);
    // The web role queues on the accessory, the worker role takes the jobs from it.
    const done = await jobsDone(['a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    for (const [job, who] of Object.entries(done)) expect(who, job).toMatch(new RegExp(`^worker ${v1.slice(0, 12)} hello-worker-[12]$`));
    const logsOut = await boxship(['logs', '--role', 'worker', '-n', '20'], { cwd: app.dir });
    ok(logsOut);
    expect(logsOut.stdout).toMatch(/hello-worker-[12] +\| worker 1 \w+: did job a\d/);
    expect(logsOut.stdout).not.toContain('hello-cron-1');
    const execOut = await boxship(['exec', '--role', 'cron', '--', 'sh', '-c', 'echo "$BOXSHIP_ROLE $JOB $BOXSHIP_INSTANCE"'], { cwd: app.dir });
    ok(execOut);
    expect(execOut.stdout.trim()).toBe('cron cron hello-cron-exec');
    // The worker has no alias on the service network: the proxy never dials it.
    expect(await onHost(host.container, "docker inspect -f '{{json .NetworkSettings.Networks}}' hello-worker-1")).not.toContain('hello-worker-1-');
  });

  it('a rollout moves every role to the new release, one container at a time, the old one stopped cleanly after the new is healthy', async () => {
    const v2 = app.bumpVersion('2');
    ok(await boxship(['release'], { cwd: app.dir }));
    const plan = await boxship(['rollout', '--plan'], { cwd: app.dir });
    ok(plan);
    expect(plan.stdout).toContain('Roles (before the web instances, one container at a time):');
    expect(plan.stdout).toContain(`${host.address} hello-worker-2: ${v1.slice(0, 12)} -> ${v2.slice(0, 12)}`);
    expect(plan.stdout).toContain(`hello:${v2} node worker.js`);
    const since = (await onHost(host.container, 'date +%s')).trim();
    const r = await boxship(['rollout'], { cwd: app.dir });
    ok(r);
    // Each old container was stopped with its stop signal and exited 0 (it finished its job), after its successor was healthy.
    const died = await onHost(
      host.container,
      `docker events --since ${since} --until $(date +%s) --filter type=container --filter event=die --format '{{.Actor.Attributes.name}} {{index .Actor.Attributes "exitCode"}}'`,
    );
    expect(
      died
        .trim()
        .split('\n')
        .filter((l) => /^hello-(cron|worker)-\d\.old /.test(l))
        .sort(),
    ).toEqual(['hello-cron-1.old 0', 'hello-worker-1.old 0', 'hello-worker-2.old 0']);
    expect(await containers()).toEqual({ 'hello-1': v2, 'hello-cron-1': v2, 'hello-worker-1': v2, 'hello-worker-2': v2 });
    const status = jsonOutput<{ roles?: unknown[] }[]>(await boxship(['status', '--json'], { cwd: app.dir }));
    expect(status[0]!.roles).toEqual([
      { name: 'hello-cron-1', role: 'cron', slot: 1, tag: v2, state: 'running' },
      { name: 'hello-worker-1', role: 'worker', slot: 1, tag: v2, state: 'running' },
      { name: 'hello-worker-2', role: 'worker', slot: 2, tag: v2, state: 'running' },
    ]);
    const again = await boxship(['rollout', '--plan'], { cwd: app.dir });
    ok(again);
    expect(again.stdout).not.toContain('Roles (before the web instances');
    // The new workers take the queue's jobs (the queue outlived the old ones).
    const done = await jobsDone(['b1', 'b2', 'b3']);
    for (const [job, who] of Object.entries(done)) expect(who, job).toMatch(new RegExp(`^worker ${v2.slice(0, 12)} hello-worker-[12]$`));
  });

  it('--canary 1 moves one container of each role and one web instance; rollback puts every one back', async () => {
    const before = await containers();
    const v2 = before['hello-1']!;
    const v3 = app.bumpVersion('3');
    ok(await boxship(['release'], { cwd: app.dir }));
    const r = await boxship(['rollout', '--canary', '1'], { cwd: app.dir });
    ok(r);
    expect(r.stdout).toContain(`Canary: 1 of 1 instances and 2 of 3 role container(s) run ${v3.slice(0, 12)}`);
    expect(await containers()).toEqual({ 'hello-1': v3, 'hello-cron-1': v3, 'hello-worker-1': v3, 'hello-worker-2': v2 });
    // Both workers take jobs: the canary's and the current release's.
    const done = await jobsDone(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']);
    for (const [job, who] of Object.entries(done)) expect(who, job).toMatch(/^worker \w{12} hello-worker-[12]$/);
    const back = await boxship(['rollback'], { cwd: app.dir });
    ok(back);
    expect(await containers()).toEqual(before);
  });

  it('a release whose worker health command fails is rolled back (exit 1): the moved role goes back, web serves throughout', async () => {
    const before = await containers();
    const file = join(app.dir, 'worker.js');
    writeFileSync(file, readFileSync(file, 'utf8').replace('process.exit(fs.existsSync(READY) ? 0 : 1)', 'process.exit(1)'));
    const bad = app.commit('a worker whose health command always fails');
    ok(await boxship(['release'], { cwd: app.dir }));
    const load = startLoad([host.httpPort], { clients: 3, maxSeconds: 180, post: true });
    await new Promise((res) => setTimeout(res, 500));
    const r = await boxship(['rollout'], { cwd: app.dir });
    await new Promise((res) => setTimeout(res, 500));
    const stats = await load.stop();
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stderr).toContain(`hello-worker-1 (role worker) on ${bad.slice(0, 12)} failed its health check (its health command (node worker.js --check)`);
    expect(r.stderr).toMatch(/Rolled back: the 0 instance\(s\) and 1 role container\(s\) this run had changed/);
    expect(await containers()).toEqual(before);
    expect(stats.failed, stats.failures.join('\n')).toBe(0);
    expect(stats.ok).toBeGreaterThan(0);
  });
});
