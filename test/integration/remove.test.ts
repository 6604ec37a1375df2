/**
 * `boxship remove` on a server shared by two services from two app folders: without --yes and no terminal it
 * refuses (exit 2) and changes nothing; with --yes it takes one service off the host completely (containers, images,
 * network, state dir) while keep-alive clients of the other one see no failure, and the other still answers.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, makeExampleApp } from '../helpers/example.js';
import { startLoad } from '../helpers/load.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, type RunResult, wipeHost } from '../helpers/run.js';

const h = HOSTS[0];
const GONE = 'gone';
const KEPT = 'kept';
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

/** What the host has of a service: container names, image tags, networks, whether its state dir exists. */
async function leftOf(service: string) {
  const [containers, images, networks, state] = await Promise.all([
    onHost(h.container, "docker ps -a --format '{{.Names}}'"),
    onHost(h.container, "docker images --format '{{.Repository}}:{{.Tag}}'"),
    onHost(h.container, "docker network ls --format '{{.Name}}'"),
    onHost(h.container, `test -e /root/.boxship/${service} && echo yes || echo no`),
  ]);
  const mine = (l: string) => l === service || l.startsWith(`${service}-`) || l.startsWith(`${service}:`) || l === `boxship-${service}`;
  const pick = (text: string) => text.split('\n').filter((l) => l && mine(l));
  return { containers: pick(containers), images: pick(images), networks: pick(networks), stateDir: state.trim() === 'yes' };
}

async function version(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${h.httpPort}/`, { signal: AbortSignal.timeout(10_000) });
  return ((await res.json()) as { version: string }).version;
}

describe('remove on a shared server', () => {
  let gone: ExampleApp;
  let kept: ExampleApp;

  beforeAll(async () => {
    await wipeHost(h.container);
    gone = makeExampleApp();
    // Both publish their router on the host: the removed one on 8090, the kept one on the host's default (80).
    gone.writeConfig({ service: GONE, hosts: [h.address], extraYaml: 'proxy:\n  port: 8090' });
    gone.bumpVersion('gone-1');
    kept = makeExampleApp();
    kept.writeConfig({ service: KEPT, hosts: [h.address] });
    kept.bumpVersion('kept-1');
    ok(await boxship(['deploy'], { cwd: gone.dir }));
    ok(await boxship(['deploy'], { cwd: kept.dir }));
  });

  afterAll(async () => {
    // Nothing of this file stays on the host (the demo and other files expect its ports free).
    await wipeHost(h.container);
    // The images these builds left in the local engine.
    for (const s of [GONE, KEPT]) {
      const ids = execFileSync('docker', ['images', '-q', s], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
      if (ids.length) execFileSync('docker', ['rmi', '-f', ...new Set(ids)], { stdio: 'ignore' });
    }
  });

  it('refuses a service whose proxy.port another service already publishes there (exit 2), before changing anything', async () => {
    const clash = makeExampleApp();
    clash.writeConfig({ service: 'clash', hosts: [h.address] });
    clash.commit('init');
    const r = await boxship(['setup'], { cwd: clash.dir });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout + r.stderr).toContain(`port 8080 is already published by ${KEPT}-proxy`);
    // No container, image or network; its state dir holds only what the deploy lock left (the audit trail).
    expect(await leftOf('clash')).toMatchObject({ containers: [], images: [], networks: [] });
  });

  it('without --yes and without a terminal it exits 2 with a hint, and changes nothing', async () => {
    const before = await leftOf(GONE);
    expect(before.containers).toEqual(expect.arrayContaining([`${GONE}-1`, `${GONE}-proxy`]));
    expect(before.images.length).toBeGreaterThan(0);
    expect(before.networks).toEqual([`boxship-${GONE}`]);
    expect(before.stateDir).toBe(true);
    const r = await boxship(['remove'], { cwd: gone.dir });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(r.stderr).toContain('--yes');
    expect(await leftOf(GONE)).toEqual(before);
  });

  it('remove --yes takes the service off the host while the other service serves keep-alive clients without a failure', async () => {
    const keptBefore = await leftOf(KEPT);
    expect(await version()).toBe('kept-1');
    const load = startLoad([h.httpPort], { clients: 4, maxSeconds: 180 });
    let r: RunResult;
    try {
      r = await boxship(['remove', '--yes', '--json'], { cwd: gone.dir });
    } finally {
      await load.stop();
    }
    ok(r);
    const out = jsonOutput<{ service: string; hosts: { host: string; containers: string[]; images: string[]; network: string; stateDir: string }[] }>(r);
    expect(out.service).toBe(GONE);
    expect(out.hosts[0]).toMatchObject({ host: h.address, network: 'removed', stateDir: 'removed' });
    expect(out.hosts[0]!.containers).toEqual(expect.arrayContaining([`${GONE}-proxy`, `${GONE}-1`]));
    expect(out.hosts[0]!.images).toHaveLength(1);

    expect(load.stats.failed, load.stats.failures.join('\n')).toBe(0);
    expect(load.stats.ok).toBeGreaterThan(0);
    expect(await leftOf(GONE)).toEqual({ containers: [], images: [], networks: [], stateDir: false });
    // The other service: all it had is there, and it answers.
    expect(await leftOf(KEPT)).toEqual(keptBefore);
    expect(await version()).toBe('kept-1');
  });

  it('brought back behind the server edge, remove takes its routes off the edge; the edge stays, and says how to go', async () => {
    const edgeYaml = 'proxy:\n  port: 8090\n  hosts: [gone.example.test]\n  tls: off\n  edge: { http_port: 8095, https_port: 8445 }';
    gone.writeConfig({ service: GONE, hosts: [h.address], extraYaml: edgeYaml });
    gone.commit('behind the edge');
    ok(await boxship(['deploy'], { cwd: gone.dir }));
    const viaEdge = () => onHost(h.container, 'curl -s -o /dev/null -w "%{http_code}" -H "Host: gone.example.test" http://127.0.0.1:8095/health || true');
    expect(await viaEdge()).toBe('200');
    const keptBefore = await leftOf(KEPT);

    const r = await boxship(['remove', '--yes'], { cwd: gone.dir });
    ok(r);
    expect(r.stdout).toContain('edge routes gone.example.test');
    expect(r.stdout).toContain('docker rm -f $(docker ps -aq --filter name=boxship-edge) && docker volume rm boxship-edge boxship-edge-data');
    expect(r.stdout).toContain('boxship setup && boxship deploy brings it back');
    expect(await leftOf(GONE)).toEqual({ containers: [], images: [], networks: [], stateDir: false });
    expect(
      (await onHost(h.container, 'docker exec boxship-edge ls -A /run/boxship-edge/routes /run/boxship-edge/sockets')).split('\n').filter(Boolean),
    ).toEqual(['/run/boxship-edge/routes:', '/run/boxship-edge/sockets:']);
    expect(await viaEdge()).not.toBe('200');
    expect((await onHost(h.container, "docker inspect -f '{{.State.Running}}' boxship-edge")).trim()).toBe('true');
    expect(await leftOf(KEPT)).toEqual(keptBefore);
    expect(await version()).toBe('kept-1');
    // The edge was this test's: gone by the command the output printed (its ports holder and generations, its volumes).
    await onHost(
      h.container,
      'docker rm -f $(docker ps -aq --filter name=boxship-edge) >/dev/null && docker volume rm boxship-edge boxship-edge-data >/dev/null',
    );
  });
});
