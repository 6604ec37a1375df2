/**
 * accessories: a Redis built here from Debian's package, shipped layer-thin to a classic and a containerd-store host,
 * started by setup, reachable by the app as `cache`; its data survives `accessory restart`, releases and `down`; a
 * pre_rollout migration writes a row the new release serves; `down --remove-data` removes the data.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { ensureRedisImage, REDIS_IMAGE } from '../helpers/redis-image.js';
import { boxship, jsonOutput, onHost, wipeHost, type RunResult } from '../helpers/run.js';

const TOKEN = 'cache-tok-7f3a9c2e1b';
const DATA = '/root/.boxship/hello/accessories/cache/data';
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

/** Every output of every command, for the final check that the secret never showed. */
const outputs: RunResult[] = [];

function accessoryYaml(image: string, hooks = ''): string {
  return [
    'accessories:',
    '  cache:',
    `    image: ${image}`,
    `    hosts: [${HOSTS[0].address}, ${HOSTS[1].address}]`,
    '    port: 6379',
    '    env: { CACHE_ROLE: primary }',
    '    secrets_file: cache.secrets',
    '    volumes: { data: /data }',
    '    cmd: [redis-server, --protected-mode, "no", --dir, /data, --appendonly, "yes"]',
    '    stop_timeout_seconds: 20',
    ...(hooks ? [hooks] : []),
  ].join('\n');
}

function configure(app: ExampleApp, image: string, hooks = ''): void {
  app.writeConfig({ appYaml: ['  env: { REDIS_HOST: cache }'], extraYaml: accessoryYaml(image, hooks) });
}

/** redis-cli inside the accessory container on a host (redis-tools comes with Debian's redis-server). */
const cli = async (host: (typeof HOSTS)[number], ...words: string[]) =>
  (await onHost(host.container, `docker exec hello-cache redis-cli ${words.join(' ')}`)).trim();
const container = async (host: (typeof HOSTS)[number]) =>
  (await onHost(host.container, "docker inspect -f '{{.Id}} {{.State.StartedAt}} {{.State.Running}}' hello-cache 2>/dev/null || true")).trim();

async function get(host: (typeof HOSTS)[number], path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${host.httpPort}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('accessories', () => {
  let app: ExampleApp;
  const run = async (args: string[]) => {
    const r = await boxship(args, { cwd: app.dir });
    outputs.push(r);
    return r;
  };

  beforeAll(async () => {
    ensureRedisImage();
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    // The accessory's secrets file as the app's: next to boxship.yml, git-ignored.
    appendFileSync(join(app.dir, '.gitignore'), 'cache.secrets\n');
    writeFileSync(join(app.dir, 'cache.secrets'), `CACHE_TOKEN=${TOKEN}\n`);
    configure(app, REDIS_IMAGE);
    app.commit('a redis accessory');
  });

  it('setup ships the image from here and starts the accessory on its hosts, on the service network, data on the host', async () => {
    const setup = await run(['setup']);
    ok(setup);
    for (const h of HOSTS) {
      // Layer-thin, as a release: the Debian base layer came with the proxy image, only Redis's own layer travels.
      expect(setup.stdout).toContain(`${h.address}: accessory cache: shipping ${REDIS_IMAGE}`);
      expect(setup.stdout).toMatch(
        new RegExp(`${h.address.replace(/[.]/g, '\\.')}: sending 1 of 2 layers \\(1 already there, ${h.store} image store, [^)]+\\)`),
      );
      const [running, labels, alias, restart] = (
        await onHost(
          h.container,
          `docker inspect -f '{{.State.Running}}|{{json .Config.Labels}}|{{json (index .NetworkSettings.Networks "boxship-hello").Aliases}}|{{.HostConfig.RestartPolicy.Name}}' hello-cache`,
        )
      )
        .trim()
        .split('|');
      expect(running, h.name).toBe('true');
      expect(JSON.parse(labels!), h.name).toMatchObject({ 'dev.boxship.service': 'hello', 'dev.boxship.accessory': 'cache' });
      expect(JSON.parse(alias!), h.name).toContain('cache');
      expect(restart).toBe('unless-stopped');
      expect((await onHost(h.container, `docker image inspect -f ok ${REDIS_IMAGE}`)).trim()).toBe('ok');
      // env and secrets in a 0600 file; the container has them; the data folder is on the host.
      expect((await onHost(h.container, 'stat -c %a /root/.boxship/hello/accessories/cache.env')).trim()).toBe('600');
      expect(await onHost(h.container, 'cat /root/.boxship/hello/accessories/cache.env')).toBe(`CACHE_ROLE=primary\nCACHE_TOKEN=${TOKEN}\n`);
      expect((await onHost(h.container, `docker exec hello-cache sh -c 'echo $CACHE_ROLE $CACHE_TOKEN'`)).trim()).toBe(`primary ${TOKEN}`);
      expect(await cli(h, 'PING')).toBe('PONG');
      expect((await onHost(h.container, `ls ${DATA}`)).trim()).toContain('appendonly');
      // Not an instance: no slot, and the proxy does not route to it.
      expect((await onHost(h.container, 'docker ps -q --filter label=dev.boxship.slot --filter name=hello-cache')).trim()).toBe('');
    }
    // Again: a running accessory is left alone.
    const before = await Promise.all(HOSTS.map(container));
    ok(await run(['setup']));
    expect(await Promise.all(HOSTS.map(container))).toEqual(before);
  });

  it('accessory restart keeps its data (same container, stopped cleanly)', async () => {
    for (const h of HOSTS) expect(await cli(h, 'SET', 'greeting', `hello-from-${h.name}`)).toBe('OK');
    const [id0] = (await container(HOSTS[0])).split(' ');
    const r = await run(['accessory', 'restart', 'cache', '--json']);
    ok(r);
    expect(jsonOutput(r)).toEqual({ accessory: 'cache', action: 'restart', hosts: HOSTS.map((h) => ({ host: h.address, action: 'restarted' })) });
    expect((await container(HOSTS[0])).split(' ')[0]).toBe(id0);
    for (const h of HOSTS) expect(await cli(h, 'GET', 'greeting')).toBe(`hello-from-${h.name}`);
    const audit = await onHost(HOSTS[0].container, 'cat /root/.boxship/hello/audit.log');
    expect(audit).toContain('accessory restart cache: restarted');
  });

  let v1: string;
  it('deploy: a pre_rollout migration writes to the accessory and the new release serves it; the data is kept across releases', async () => {
    configure(app, REDIS_IMAGE, 'hooks:\n  pre_rollout: node migrate.js');
    v1 = app.commit('migrate on deploy');
    const before = await Promise.all(HOSTS.map(container));
    const r = await run(['deploy']);
    ok(r);
    expect(r.stdout).toContain(`migration for ${v1} recorded in redis at cache`);
    const m = await get(HOSTS[0], '/migrations');
    expect(m).toEqual({ status: 200, body: { migrations: [v1] } });
    expect(await get(HOSTS[0], '/kv/greeting')).toEqual({ status: 200, body: { key: 'greeting', value: `hello-from-${HOSTS[0].name}` } });
    // The second host has its own cache (the hook ran on the first host): its own data, read by its own app.
    expect(await get(HOSTS[1], '/kv/greeting')).toEqual({ status: 200, body: { key: 'greeting', value: `hello-from-${HOSTS[1].name}` } });

    const v2 = app.bumpVersion('acc-2');
    ok(await run(['deploy']));
    expect((await get(HOSTS[0], '/')).body.sha).toBe(v2);
    expect((await get(HOSTS[0], '/migrations')).body.migrations).toEqual([v1, v2].sort());
    expect((await get(HOSTS[0], '/kv/greeting')).body.value).toBe(`hello-from-${HOSTS[0].name}`);
    // Releases come and go; the accessory was never restarted.
    expect(await Promise.all(HOSTS.map(container))).toEqual(before);
    // logs and status show instances only.
    const logs = await run(['logs', '-n', '5']);
    ok(logs);
    expect(logs.stdout).not.toContain('hello-cache');
    const st = jsonOutput<{ instances: { name: string }[]; accessories: unknown }[]>(await run(['status', '--json']));
    for (const h of st) {
      expect(h.instances.map((i) => i.name)).toEqual(['hello-1']);
      expect(h.accessories).toEqual([{ name: 'cache', image: REDIS_IMAGE, status: 'running' }]);
    }
  });

  it('accessory logs shows its lines, prefixed with host and container', async () => {
    const r = await run(['accessory', 'logs', 'cache', '-n', '50']);
    ok(r);
    for (const h of HOSTS) expect(r.stdout).toMatch(new RegExp(`^${h.address.replace(/[.]/g, '\\.')} +hello-cache \\| .*Ready to accept connections`, 'm'));
  });

  it('accessory up: unchanged is left alone; --plan runs nothing; another image recreates it on the same data', async () => {
    const before = await Promise.all(HOSTS.map(container));
    const same = await run(['accessory', 'up', 'cache', '--json']);
    ok(same);
    expect(jsonOutput<{ hosts: { action: string }[] }>(same).hosts.map((h) => h.action)).toEqual(['unchanged', 'unchanged']);
    expect(await Promise.all(HOSTS.map(container))).toEqual(before);

    execTag(REDIS_IMAGE, 'boxship-test-redis:2');
    configure(app, 'boxship-test-redis:2', 'hooks:\n  pre_rollout: node migrate.js');
    const plan = await run(['accessory', 'up', 'cache', '--plan']);
    ok(plan);
    expect(plan.stdout).toContain('Plan: accessory up cache on 2 host(s); nothing has been run.');
    expect(plan.stdout).toContain('# stop accessory cache (up to 20s to shut down) and start the new container in its place');
    expect(plan.stdout).toMatch(
      /docker create --pull never --name hello-cache\.next --network boxship-hello --network-alias cache .* boxship-test-redis:2 redis-server/,
    );
    expect(await Promise.all(HOSTS.map(container))).toEqual(before);

    const up = await run(['accessory', 'up', 'cache', '--json']);
    ok(up);
    expect(jsonOutput<{ hosts: { action: string }[] }>(up).hosts.map((h) => h.action)).toEqual(['recreated', 'recreated']);
    for (const [i, h] of HOSTS.entries()) {
      expect((await container(h)).split(' ')[0]).not.toBe(before[i]!.split(' ')[0]);
      expect((await onHost(h.container, "docker inspect -f '{{.Config.Image}}' hello-cache")).trim()).toBe('boxship-test-redis:2');
      expect(await cli(h, 'GET', 'greeting')).toBe(`hello-from-${h.name}`);
    }
    expect((await get(HOSTS[0], '/migrations')).body.migrations).toHaveLength(2);
  });

  it('accessory up: a new container that does not start leaves the old one running on its data', async () => {
    const hooks = 'hooks:\n  pre_rollout: node migrate.js';
    const before = await Promise.all(HOSTS.map(container));
    app.writeConfig({
      appYaml: ['  env: { REDIS_HOST: cache }'],
      extraYaml: accessoryYaml('boxship-test-redis:2', hooks).replace(/cmd: .*/, 'cmd: [no-such-server, --dir, /data]'),
    });
    const bad = await run(['accessory', 'up', 'cache']);
    expect(bad.code, `${bad.stdout}\n${bad.stderr}`).not.toBe(0);
    expect(bad.stderr).toContain('accessory cache: its new container did not start');
    expect(bad.stderr).toContain('the old container runs again on the same data');
    for (const [i, h] of HOSTS.entries()) {
      const [id, , running] = (await container(h)).split(' ');
      expect(id).toBe(before[i]!.split(' ')[0]);
      expect(running).toBe('true');
      expect((await onHost(h.container, "docker ps -a --format '{{.Names}}' | grep -c '^hello-cache' || true")).trim()).toBe('1');
      await waitFor(async () => (await cli(h, 'GET', 'greeting').catch(() => '')) === `hello-from-${h.name}`);
    }
    configure(app, 'boxship-test-redis:2', hooks);
    const same = await run(['accessory', 'up', 'cache', '--json']);
    ok(same);
    expect(jsonOutput<{ hosts: { action: string }[] }>(same).hosts.map((h) => h.action)).toEqual(['unchanged', 'unchanged']);
  });

  it('down keeps the data (up brings it back); down --remove-data removes it', async () => {
    const down = await run(['accessory', 'down', 'cache']);
    ok(down);
    expect(down.stdout).toContain('Its data is kept. To start it again on the same data: boxship accessory up cache');
    for (const h of HOSTS) {
      expect(await container(h)).toBe('');
      expect((await onHost(h.container, `ls ${DATA}`)).trim()).toContain('appendonly');
      expect((await onHost(h.container, 'ls /root/.boxship/hello/accessories')).trim()).toBe('cache');
    }
    // The app answers, without its cache; status says it is missing.
    expect((await get(HOSTS[0], '/kv/greeting')).status).toBe(502);
    const st = await run(['status']);
    expect(st.stdout).toMatch(/accessories:\n\s+cache\s+boxship-test-redis:2\s+missing \(run: boxship accessory up cache\)/);
    ok(await run(['accessory', 'up', 'cache']));
    for (const h of HOSTS) expect(await cli(h, 'GET', 'greeting')).toBe(`hello-from-${h.name}`);
    expect((await get(HOSTS[0], '/kv/greeting')).body.value).toBe(`hello-from-${HOSTS[0].name}`);

    const gone = await run(['accessory', 'down', 'cache', '--remove-data', '--json']);
    ok(gone);
    expect(jsonOutput(gone)).toEqual({
      accessory: 'cache',
      action: 'down',
      hosts: HOSTS.map((h) => ({ host: h.address, action: 'removed', dataRemoved: true })),
    });
    for (const h of HOSTS) {
      expect(await container(h)).toBe('');
      expect((await onHost(h.container, 'ls -A /root/.boxship/hello/accessories')).trim()).toBe('');
      // The image stays (a later up needs no transfer); pruning releases never touches it.
      expect((await onHost(h.container, 'docker image inspect -f ok boxship-test-redis:2')).trim()).toBe('ok');
    }
  });

  it('an unknown accessory is bad input naming the ones there are; the secret never showed in any output', async () => {
    const r = await run(['accessory', 'up', 'db']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: no accessory "db" in');
    expect(r.stderr).toContain('hint: accessories are: cache');
    for (const o of outputs) expect(`${o.stdout}\n${o.stderr}`).not.toContain(TOKEN);
    for (const h of HOSTS) expect(await onHost(h.container, 'cat /root/.boxship/hello/audit.log')).not.toContain(TOKEN);
  });
});

async function waitFor(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; !(await ok()); i++) {
    if (i > 60) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The same image under a new tag: the hosts get it without a transfer (tagged only); the container is recreated. */
function execTag(from: string, to: string): void {
  execFileSync('docker', ['tag', from, to]);
}
