/**
 * Drains off the command: an app that drains for seconds on SIGTERM (the example app's DRAIN_MODE=keepalive, like an
 * express app that waits for its open connections) is rolled out under keep-alive load. The rollout returns while the
 * old instances still drain on the hosts, `status` lists them as draining until a time, they are removed on their
 * own when done, and a rollback right after (which needs their colour) waits for them and loses no request.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { startLoad } from '../helpers/load.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, jsonOutput, onHost, wipeHost, type RunResult } from '../helpers/run.js';

const DRAIN_SECONDS = 20;
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StatusJson {
  host: string;
  instances: { name: string; tag: string; health: string }[];
  draining?: { name: string; tag: string; until: string }[];
}

/** The old instances on a host: running `.old-*` containers of the service. */
const olds = async (container: string) =>
  (await onHost(container, "docker ps --filter label=dev.boxship.service=hello --format '{{.Names}}'")).split('\n').filter((n) => n.includes('.old-'));

describe('old instances drain after the command returns', () => {
  let app: ExampleApp;
  let v1: string;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    app.writeConfig({ appYaml: [`  env: { DRAIN_MODE: keepalive, DRAIN_SECONDS: "${DRAIN_SECONDS}" }`, '  drain_seconds: 23'] });
    v1 = app.bumpVersion('1');
    ok(await boxship(['deploy'], { cwd: app.dir }));
  });

  it('rollout returns while the old instances drain; status shows them; they go on their own; a rollback right after waits for them', async () => {
    const v2 = app.bumpVersion('2');
    ok(await boxship(['release'], { cwd: app.dir }));
    const load = startLoad(
      HOSTS.map((h) => h.httpPort),
      { clients: 2, maxSeconds: 120, post: true },
    );
    await sleep(500);
    const t0 = Date.now();
    const r = await boxship(['rollout'], { cwd: app.dir });
    const rolloutMs = Date.now() - t0;
    ok(r);
    expect(r.stdout + r.stderr).toMatch(/old instance\(s\) finish their requests on their hosts in the background/);
    // Still draining when the command is back: it did not wait for them.
    const left = (await Promise.all(HOSTS.map((h) => olds(h.container)))).flat();
    expect(left.length, `rollout took ${rolloutMs} ms`).toBeGreaterThan(0);

    // Both at once: on a loaded machine two status calls in a row can outlast the drain.
    const [text, json] = await Promise.all([boxship(['status'], { cwd: app.dir }), boxship(['status', '--json'], { cwd: app.dir })]);
    expect(text.stdout).toMatch(/hello-1\.old-blue .* draining until \d\d:\d\d:\d\d UTC/);
    const st = jsonOutput<StatusJson[]>(json);
    expect(st.flatMap((h) => h.instances.map((i) => i.tag))).toEqual([v2, v2]);
    const draining = st.flatMap((h) => h.draining ?? []);
    expect(draining.length).toBeGreaterThan(0);
    for (const d of draining) {
      expect(d.tag).toBe(v1);
      expect(Date.parse(d.until)).toBeGreaterThan(Date.now());
    }

    // A rollback now needs the colour the old instances still hold: it waits for each, then moves, 0 failed.
    const back = await boxship(['rollback'], { cwd: app.dir });
    ok(back);
    const stats = await load.stop();
    expect(stats.failures).toEqual([]);
    expect(stats.failed).toBe(0);
    expect(stats.postNotOk).toBe(0);
    const after = jsonOutput<StatusJson[]>(await boxship(['status', '--json'], { cwd: app.dir }));
    expect(after.flatMap((h) => h.instances.map((i) => i.tag))).toEqual([v1, v1]);

    // The v2 instances the rollback left draining go on their own, with their markers.
    for (let i = 0; i < 60 && (await Promise.all(HOSTS.map((h) => olds(h.container)))).flat().length; i++) await sleep(500);
    for (const h of HOSTS) {
      expect(await olds(h.container), h.name).toEqual([]);
      expect((await onHost(h.container, 'ls -A /root/.boxship/hello/draining 2>/dev/null; true')).trim(), h.name).toBe('');
    }
  });

  it('--wait returns only once every old instance has finished', async () => {
    app.bumpVersion('3');
    ok(await boxship(['release'], { cwd: app.dir }));
    const r = await boxship(['rollout', '--wait'], { cwd: app.dir });
    ok(r);
    expect(r.stdout + r.stderr).toMatch(/waiting for \d old instance\(s\) to finish their requests/);
    for (const h of HOSTS) expect(await olds(h.container), h.name).toEqual([]);
  });
});
