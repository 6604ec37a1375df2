/**
 * The server's edge on a real test host: two services from two app folders on one host's ports 80/443 by host
 * name, each with a real certificate from this slot's pebble by HTTP-01 (the edge trusting pebble's listener through
 * proxy.acme.ca_root), a client trusting only pebble's root verifying chain and name; the HTTP -> HTTPS redirect; a
 * name another service serves refused with exit 2 and nothing changed; and no second certificate across a second
 * deploy and an edge restart (pebble's order count).
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { request } from '../helpers/https.js';
import { startLoad } from '../helpers/load.js';
import { openStream } from '../helpers/websocket.js';
import { HOSTS, rememberedSlot } from '../helpers/paths.js';
import { type Pebble, startPebble } from '../helpers/pebble.js';
import { boxship, onHost, wipeHost, type RunResult } from '../helpers/run.js';
import { testnetAddress } from '../helpers/swarm.js';

const HOST = HOSTS[0];
const SLOT = rememberedSlot() ?? 0;
const ONE = `one.edge${SLOT}.test`;
const TWO = `two.edge${SLOT}.test`;
const THREE = `three.edge${SLOT}.test`;
const FOUR = `four.edge${SLOT}.test`;
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

let pebble: Pebble;
let ip: string;
let root: string;
let one: ExampleApp;
let two: ExampleApp;

function siteYaml(hosts: string[]): string {
  return [
    'proxy:',
    `  hosts: [${hosts.join(', ')}]`,
    '  acme:',
    `    ca: ${pebble.directoryUrl}`,
    `    ca_root: ${pebble.listenerCaPath}`,
    '    email: ops@example.test',
  ].join('\n');
}

function appFor(service: string, hosts: string[]): ExampleApp {
  const app = makeExampleApp();
  app.writeConfig({ service, hosts: [HOST.address], extraYaml: siteYaml(hosts) });
  app.commit('init');
  return app;
}

const served = async (name: string) => request({ ip, name, ca: root, path: '/' });

beforeAll(async () => {
  await wipeHost(HOST.container);
  pebble = await startPebble(SLOT);
  ip = testnetAddress(HOST);
  await pebble.addName(ONE, ip);
  await pebble.addName(TWO, ip);
  await pebble.addName(THREE, ip);
  await pebble.addName(FOUR, ip);
  one = appFor('one', [ONE]);
  two = appFor('two', [TWO]);
}, 120_000);

afterAll(async () => {
  await wipeHost(HOST.container);
});

describe('the edge: several services on one host by name, over HTTPS', () => {
  it('serves two services from two app folders on one port 443, each with its own certificate a client verifies', async () => {
    const before = pebble.orders();
    ok(await boxship(['deploy'], { cwd: one.dir }));
    root = await pebble.rootPem();
    const a = await served(ONE);
    expect(a.status).toBe(200);
    ok(await boxship(['deploy'], { cwd: two.dir }));
    const b = await served(TWO);
    expect(b.status).toBe(200);
    // Each name reaches its own service: the example app reports its service through the env boxship gives it.
    expect((await served(ONE)).status).toBe(200);
    expect(pebble.orders() - before).toBe(2);
    // No port of the services' own proxies is published: the edge is the way in.
    expect(await onHost(HOST.container, "docker ps --format '{{.Names}} {{.Ports}}' | sort")).toMatch(/^boxship-edge-ports .*0\.0\.0\.0:443->443/m);
    expect(await onHost(HOST.container, "docker ps --format '{{.Names}} {{.Ports}}' | grep -- '-proxy' || true")).not.toMatch(/->/);
  }, 600_000);

  it('speaks HTTP/2 over TLS (ALPN h2) as well as HTTP/1.1', async () => {
    const session = http2.connect(`https://${ip}:443`, { servername: ONE, ca: root });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/', ':authority': ONE });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      expect(session.alpnProtocol).toBe('h2');
      expect(status).toBe(200);
    } finally {
      session.close();
    }
  });

  it('redirects plain HTTP to HTTPS, and answers an unknown name with 404 and no certificate', async () => {
    const r = await request({ ip, name: ONE, plain: true, path: '/x?y=1' });
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe(`https://${ONE}/x?y=1`);
    const unknown = await request({ ip, name: `nobody.edge${SLOT}.test`, plain: true });
    expect(unknown.status).toBe(404);
    await expect(request({ ip, name: `nobody.edge${SLOT}.test`, ca: root })).rejects.toThrow();
  });

  it('refuses a name another service serves (exit 2), and changes nothing', async () => {
    const routesBefore = await onHost(HOST.container, 'docker exec boxship-edge find /run/boxship-edge/routes | sort');
    two.writeConfig({ service: 'two', hosts: [HOST.address], extraYaml: siteYaml([TWO, ONE]) });
    const r = await boxship(['setup'], { cwd: two.dir });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout + r.stderr).toContain(`${ONE} is already served by the service one on this host`);
    expect(await onHost(HOST.container, 'docker exec boxship-edge find /run/boxship-edge/routes | sort')).toBe(routesBefore);
    expect((await served(ONE)).status).toBe(200);
    two.writeConfig({ service: 'two', hosts: [HOST.address], extraYaml: siteYaml([TWO]) });
  });

  it('obtains no second certificate across another deploy and an edge restart', async () => {
    const before = pebble.orders();
    one.bumpVersion('2');
    ok(await boxship(['deploy'], { cwd: one.dir }));
    await onHost(HOST.container, 'docker restart boxship-edge >/dev/null');
    ok(await boxship(['setup'], { cwd: one.dir }));
    expect((await served(ONE)).status).toBe(200);
    expect((await served(TWO)).status).toBe(200);
    expect(pebble.orders() - before).toBe(0);
    // status names each host name's certificate and its issuer (pebble's intermediate).
    const st = await boxship(['status', '--json'], { cwd: one.dir });
    ok(st);
    const row = JSON.parse(st.stdout.slice(st.stdout.indexOf('['))) as {
      edge: { status: string; names: { host: string; certificate: { issuer: string } | null }[] };
    }[];
    expect(row[0]!.edge.status).toBe('running');
    expect(row[0]!.edge.names).toEqual([{ host: ONE, tls: 'auto', certificate: { issuer: expect.stringMatching(/Pebble/i), notAfter: expect.any(String) } }]);
  }, 600_000);

  it('rolls a service out and back and into maintenance under HTTPS load while the other loses nothing; a third service added costs the first two nothing', async () => {
    const target = (name: string) => ({ ip, name, ca: root });
    const mine = startLoad([target(ONE)], { clients: 2, maxSeconds: 300, post: true });
    const other = startLoad([target(TWO)], { clients: 2, maxSeconds: 300, post: true });
    try {
      one.bumpVersion('3');
      ok(await boxship(['deploy'], { cwd: one.dir }));
      ok(await boxship(['rollback'], { cwd: one.dir }));
      ok(await boxship(['maintenance', 'on'], { cwd: one.dir }));
      ok(await boxship(['maintenance', 'off'], { cwd: one.dir }));
      const three = appFor('three', [THREE]);
      ok(await boxship(['deploy'], { cwd: three.dir }));
      expect((await served(THREE)).status).toBe(200);
    } finally {
      const [m, o] = await Promise.all([mine.stop(), other.stop()]);
      expect(o.failed, o.failures.join('\n')).toBe(0);
      expect(o.requests).toBeGreaterThan(100);
      expect(o.postNotOk).toBe(0);
      // The service itself: its maintenance answers are 503 + Retry-After (counted apart), nothing else fails.
      expect(m.failed, m.failures.join('\n')).toBe(0);
      expect(m.backoff503).toBeGreaterThan(0);
    }
  }, 900_000);

  it("keeps WebSocket streams across other services' changes; a rollout closes the old instance's with 1012 only after its drain, and a reconnect reaches the new release", async () => {
    const DRAIN = 4;
    one.writeConfig({
      service: 'one',
      hosts: [HOST.address],
      extraYaml: siteYaml([ONE]),
      appYaml: [`  env: { DRAIN_MODE: keepalive, DRAIN_SECONDS: "${DRAIN}" }`],
    });
    one.bumpVersion('ws1');
    ok(await boxship(['deploy'], { cwd: one.dir }));
    const mine = await openStream({ ip, name: ONE, ca: root });
    const other = await openStream({ ip, name: TWO, ca: root });
    try {
      // Another service added on the same edge: neither stream notices.
      const four = appFor('four', [FOUR]);
      ok(await boxship(['deploy'], { cwd: four.dir }));
      expect(mine.ended).toBeUndefined();
      expect(other.ended).toBeUndefined();
      // A rollout of the first service: its stream stays on the old instance through the drain, then gets 1012.
      one.bumpVersion('ws2');
      ok(await boxship(['release'], { cwd: one.dir }));
      const started = Date.now();
      ok(await boxship(['rollout'], { cwd: one.dir }));
      for (let i = 0; i < 60 && !mine.ended; i++) await new Promise((r) => setTimeout(r, 500));
      expect(mine.ended?.code, `frames: ${mine.frames.slice(-3).join(', ')}`).toBe(1012);
      expect(mine.ended!.at - started).toBeGreaterThanOrEqual(DRAIN * 1000);
      expect(mine.frames.every((f) => f.startsWith('tick ws1 '))).toBe(true);
      const again = await openStream({ ip, name: ONE, ca: root });
      await new Promise((r) => setTimeout(r, 1500));
      again.close();
      expect(again.frames[0]).toMatch(/^tick ws2 /);
      // The other service's stream went on throughout.
      expect(other.ended).toBeUndefined();
      expect(other.frames.length).toBeGreaterThan(10);
    } finally {
      mine.close();
      other.close();
    }
  }, 600_000);

  it('upgrades the edge in place (Caddy 2.6.2 to 2.11.4) under HTTPS load with streams open: no request fails, no stream closes, no new certificate; the old generation stops once its streams end', async () => {
    const before = pebble.orders();
    const target = (name: string) => ({ ip, name, ca: root });
    const streams = await Promise.all([openStream({ ip, name: ONE, ca: root }), openStream({ ip, name: TWO, ca: root })]);
    const load = startLoad([target(ONE), target(TWO)], { clients: 4, maxSeconds: 300, post: true });
    const psEdge = () => onHost(HOST.container, "docker ps -a --filter name=boxship-edge --format '{{.Names}} {{.Image}} {{.State}}' | sort");
    try {
      one.writeConfig({ service: 'one', hosts: [HOST.address], extraYaml: `${siteYaml([ONE])}\n  edge: { image: boxship-proxy:caddy-2.11.4 }` });
      const r = await boxship(['setup'], { cwd: one.dir });
      ok(r);
      expect(r.stdout + r.stderr).toMatch(/replacing the edge \(image \S+ -> boxship-proxy:caddy-2\.11\.4\)/);
      // Load goes on a while on the new generation, then the streams are checked: still open, still ticking.
      await new Promise((r) => setTimeout(r, 3000));
      const ps = await psEdge();
      expect(ps).toMatch(/^boxship-edge boxship-proxy:caddy-2\.11\.4 running$/m);
      expect(ps).toMatch(/^boxship-edge-retiring-0 \S+ running$/m);
      for (const st of streams) expect(st.ended).toBeUndefined();
      const ticks = streams.map((st) => st.frames.length);
      await new Promise((r) => setTimeout(r, 1500));
      streams.forEach((st, i) => expect(st.frames.length).toBeGreaterThan(ticks[i]!));
      // A new connection is served (by the new generation: the old one's ports get no new connection).
      expect((await served(ONE)).status).toBe(200);
    } finally {
      const l = await load.stop();
      expect(l.failed, l.failures.join('\n')).toBe(0);
      expect(l.requests).toBeGreaterThan(100);
      expect(l.postNotOk).toBe(0);
      for (const st of streams) st.close();
    }
    // Streams ended: the retiring generation stops by itself, and the next setup clears it away.
    let ps = '';
    for (let i = 0; i < 60; i++) {
      ps = await psEdge();
      if (!/boxship-edge-retiring-0 .* running/.test(ps)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(ps).not.toMatch(/boxship-edge-retiring-0 .* running/);
    ok(await boxship(['setup'], { cwd: one.dir }));
    expect(await psEdge()).not.toMatch(/retiring/);
    expect(pebble.orders() - before).toBe(0);
  }, 600_000);
});
