/**
 * An accessory on one host reached from the app on the other by the same alias: Redis (built here from Debian's
 * package) on host a, published on a's address on the test network only (its private_address), never on its
 * loopback; the app on b reads it as `cache:6379` through --add-host, and so does `boxship exec` there. Moving the
 * accessory to b, a rollout of the same release restarts both instances with what their host needs now.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { ensureRedisImage, REDIS_IMAGE } from '../helpers/redis-image.js';
import { boxship, onHost, wipeHost, type RunResult } from '../helpers/run.js';
import { testnetAddress } from '../helpers/swarm.js';

const [A, B] = HOSTS;
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

/** A TCP connect from inside a host (the host's own view, not a container's): "open" or "closed". */
const tcp = async (host: (typeof HOSTS)[number], address: string, port: number) =>
  (await onHost(host.container, `timeout 3 bash -c '</dev/tcp/${address}/${port}' 2>/dev/null && echo open || echo closed`)).trim();

async function kv(host: (typeof HOSTS)[number], key: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${host.httpPort}/kv/${key}`, { signal: AbortSignal.timeout(15_000) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

const extraHosts = async (host: (typeof HOSTS)[number]) =>
  (JSON.parse((await onHost(host.container, "docker inspect -f '{{json .HostConfig.ExtraHosts}}' hello-1")).trim()) as string[] | null) ?? [];

describe('an accessory reached from another host', () => {
  let app: ExampleApp;
  let ipA: string;
  let ipB: string;
  const run = (args: string[]) => boxship(args, { cwd: app.dir });

  function configure(on: 'a' | 'b'): void {
    app.writeConfig({
      // The hosts reach each other on the test network; boxship reaches them on 127.0.0.1 (a loopback address the
      // other host could not use), so each says where it is.
      hosts: [`{ address: "${A.address}", private_address: ${ipA} }`, `{ address: "${B.address}", private_address: ${ipB} }`],
      appYaml: ['  env: { REDIS_HOST: cache }'],
      extraYaml: [
        'accessories:',
        '  cache:',
        `    image: ${REDIS_IMAGE}`,
        `    host: ${on === 'a' ? A.address : B.address}`,
        '    port: 6379',
        '    cmd: [redis-server, --protected-mode, "no"]',
        '    stop_timeout_seconds: 5',
      ].join('\n'),
    });
  }

  beforeAll(async () => {
    ensureRedisImage();
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    ipA = testnetAddress(A);
    ipB = testnetAddress(B);
    app = makeExampleApp();
    configure('a');
    app.commit('a redis accessory on host a only');
  });

  it('the plan shows the accessory published on a’s private address and the alias added on b', async () => {
    ok(await run(['release']));
    const plan = await run(['rollout', '--plan']);
    ok(plan);
    expect(plan.stdout).toMatch(
      new RegExp(`docker run -d --pull never --name hello-cache --network boxship-hello --network-alias cache .* -p ${ipA.replace(/\./g, '\\.')}:6379:6379 `),
    );
    expect(plan.stdout).toContain(`--label dev.boxship.accessory-hosts=cache:${ipA} --add-host cache:${ipA}`);
    expect(plan.stdout).not.toContain('0.0.0.0:6379');
  });

  it('the app on b reaches the accessory on a as cache:6379; its port is published on a’s private address only', async () => {
    ok(await run(['rollout']));
    expect((await onHost(A.container, 'docker exec hello-cache redis-cli SET greeting from-host-a')).trim()).toBe('OK');
    expect(await kv(B, 'greeting')).toEqual({ status: 200, body: { key: 'greeting', value: 'from-host-a' } });
    expect(await kv(A, 'greeting')).toEqual({ status: 200, body: { key: 'greeting', value: 'from-host-a' } });
    // b resolves the alias to a's private address; a keeps the network alias (no /etc/hosts line).
    expect(await extraHosts(B)).toEqual([`cache:${ipA}`]);
    expect(await extraHosts(A)).toEqual([]);
    expect((await onHost(B.container, 'docker ps -a -q --filter name=hello-cache')).trim()).toBe('');

    // Published on a's private address, and only there.
    const bindings = JSON.parse((await onHost(A.container, "docker inspect -f '{{json .HostConfig.PortBindings}}' hello-cache")).trim());
    expect(bindings).toEqual({ '6379/tcp': [{ HostIp: ipA, HostPort: '6379' }] });
    expect(await tcp(A, ipA, 6379)).toBe('open');
    expect(await tcp(A, '127.0.0.1', 6379)).toBe('closed');
    expect(await tcp(B, ipA, 6379)).toBe('open');

    // One-off containers on b (exec, hooks) resolve it too.
    const exec = await run(['exec', '--host', B.address, '--', 'node', 'redis.js', 'GET', 'greeting']);
    ok(exec);
    expect(exec.stdout).toContain('from-host-a');
  });

  it('moved to b: a rollout of the same release restarts both instances with what their host needs now', async () => {
    configure('b');
    app.commit('the accessory moves to host b');
    const up = await run(['accessory', 'up', 'cache']);
    ok(up);
    expect((await onHost(B.container, 'docker exec hello-cache redis-cli SET greeting from-host-b')).trim()).toBe('OK');
    // The newest release is still the one serving: only the config changed.
    const r = await run(['rollout']);
    ok(r);
    expect(await extraHosts(A)).toEqual([`cache:${ipB}`]);
    expect(await extraHosts(B)).toEqual([]);
    expect(await kv(A, 'greeting')).toEqual({ status: 200, body: { key: 'greeting', value: 'from-host-b' } });
    expect(await kv(B, 'greeting')).toEqual({ status: 200, body: { key: 'greeting', value: 'from-host-b' } });
    expect(await tcp(B, '127.0.0.1', 6379)).toBe('closed');
    // The same release, nothing to move now.
    const again = await run(['rollout', '--plan']);
    ok(again);
    expect(again.stdout).toContain('Moves: none, every instance already runs it');
  });
});
