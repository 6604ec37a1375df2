/** Pruning after release with `releases.keep: 2`: old images go, but never the current or the previous release. */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, onHost, wipeHost, type RunResult } from '../helpers/run.js';

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const tagsOn = async (container: string) => (await onHost(container, "docker image ls hello --format '{{.Tag}}'")).split('\n').filter(Boolean).sort();

describe('pruning old releases', () => {
  let app: ExampleApp;
  const sha: string[] = [];

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    app.writeConfig({ extraYaml: 'releases:\n  keep: 2' });
    app.commit('keep 2');
  });

  it('keeps the newest two, the current and the previous release; rollback then needs no transfer', async () => {
    for (const v of ['1', '2', '3']) {
      sha.push(app.bumpVersion(v));
      ok(await boxship(['release'], { cwd: app.dir }));
      ok(await boxship(['rollout'], { cwd: app.dir }));
    }
    for (const v of ['4', '5']) {
      sha.push(app.bumpVersion(v));
      ok(await boxship(['release'], { cwd: app.dir }));
    }
    // v5, v4: the newest two; v3 serves; v2 is what rollback returns to; v1 goes.
    for (const h of HOSTS) expect(await tagsOn(h.container)).toEqual([sha[1], sha[2], sha[3], sha[4]].sort());
    const back = await boxship(['rollback'], { cwd: app.dir });
    ok(back);
    const res = await fetch(`http://127.0.0.1:${HOSTS[0].httpPort}/`);
    expect(((await res.json()) as { version: string }).version).toBe('2');
  });
});
