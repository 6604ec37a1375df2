/**
 * `boxship deploy` (release + rollout in one command) and `--json` printing only JSON on stdout, against the
 * simulated hosts. Every JSON check parses the whole of stdout, not a JSON tail after progress lines.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, wipeHost, type RunResult } from '../helpers/run.js';

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const strictJson = <T>(r: RunResult): T => {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    throw new Error(`stdout is not only JSON (${(err as Error).message}):\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
};

async function version(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/`);
  return ((await res.json()) as { version: string }).version;
}

describe('deploy and --json', () => {
  let app: ExampleApp;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
  });

  it('deploy --json releases and rolls out in one command; stdout is one JSON document', async () => {
    const sha = app.bumpVersion('d1');
    const r = await boxship(['deploy', '--json'], { cwd: app.dir });
    ok(r);
    const out = strictJson<{
      release: { tag: string; hosts: { host: string; ok: boolean }[] };
      rollout: { target: string; ok: boolean; exitCode: number };
      exitCode: number;
    }>(r);
    expect(out.release.tag).toBe(`hello:${sha}`);
    expect(out.release.hosts.map((h) => h.ok)).toEqual(HOSTS.map(() => true));
    expect(out.rollout).toMatchObject({ target: sha, ok: true, exitCode: 0 });
    expect(out.exitCode).toBe(0);
    // Progress went to stderr.
    expect(r.stderr).toMatch(/Build hello|Built hello/);
    for (const h of HOSTS) expect(await version(h.httpPort)).toBe('d1');
  });

  it('release --json, status --json and releases --json print only JSON', async () => {
    const sha = app.bumpVersion('d2');
    const rel = await boxship(['release', '--json'], { cwd: app.dir });
    ok(rel);
    expect(strictJson<{ tag: string }>(rel).tag).toBe(`hello:${sha}`);
    const st = await boxship(['status', '--json'], { cwd: app.dir });
    ok(st);
    expect(strictJson<{ host: string }[]>(st).map((h) => h.host)).toEqual(HOSTS.map((h) => h.address));
    const rs = await boxship(['releases', '--json'], { cwd: app.dir });
    ok(rs);
    expect(strictJson<{ releases: { tag: string }[] }[]>(rs)[0]!.releases[0]!.tag).toBe(sha);
  });

  it('deploy (human) rolls the new commit out and says how to undo', async () => {
    app.bumpVersion('d3');
    const r = await boxship(['deploy'], { cwd: app.dir });
    ok(r);
    expect(r.stdout).toContain('boxship rollback');
    for (const h of HOSTS) expect(await version(h.httpPort)).toBe('d3');
  });
});
