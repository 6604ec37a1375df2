/**
 * roles: on a real host: the example's worker (examples/hello/worker.js, no HTTP) runs beside web as two roles, one
 * judged by its health command (docker exec node worker.js --check), one by still running. A rollout moves both to
 * the new release before web; a release whose worker health command fails is rolled back (exit 1): the role already
 * moved goes back, web never changes and keeps serving under load without a failed request.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, makeExampleApp } from '../helpers/example.js';
import { startLoad } from '../helpers/load.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, type RunResult, wipeHost } from '../helpers/run.js';

const host = HOSTS[0];
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

const ROLES = [
  'roles:',
  '  cron:',
  '    cmd: node worker.js',
  '    env: { JOB: cron }',
  '    healthcheck: { running_seconds: 2 }',
  '  worker:',
  '    cmd: [node, worker.js]',
  '    instances: 2',
  '    healthcheck: { cmd: [node, worker.js, --check] }',
].join('\n');

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
      .filter(([name]) => !name!.includes('.old-'))
      .map(([name, tag, state]) => [name!, `${tag}${state === 'running' ? '' : ` (${state})`}`]),
  );
}

describe('roles beside web', () => {
  let app: ExampleApp;
  let v1: string;

  beforeAll(async () => {
    await wipeHost(host.container);
    app = makeExampleApp();
    app.writeConfig({ hosts: [host.address], extraYaml: ROLES });
    v1 = app.commit('web and two roles');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
  });

  it("runs each role's containers from the release's image with the role's command and env, beside web", async () => {
    expect(await containers()).toEqual({ 'hello-1': v1, 'hello-cron-1': v1, 'hello-worker-1': v1, 'hello-worker-2': v1 });
    const env = await onHost(host.container, "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' hello-cron-1");
    expect(env).toContain('BOXSHIP_ROLE=cron');
    expect(env).toContain('JOB=cron');
    expect(env).toContain('BOXSHIP_INSTANCE=hello-cron-1');
    const logs = await onHost(host.container, 'docker logs hello-worker-1 2>&1');
    expect(logs).toContain(`worker 1 ${v1.slice(0, 12)}: job 1`);
    const logsOut = await boxship(['logs', '--role', 'worker', '-n', '3'], { cwd: app.dir });
    ok(logsOut);
    expect(logsOut.stdout).toMatch(/hello-worker-2 +\| worker 1 \w+: job \d+/);
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
