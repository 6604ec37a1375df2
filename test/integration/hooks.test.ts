/** hooks: pre_release here, pre_rollout / post_rollout as one-off containers of the new release on the first host. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, onHost, wipeHost, type RunResult } from '../helpers/run.js';

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

interface StatusJson {
  current?: string;
  instances: { tag: string }[];
}

function writeConfig(app: ExampleApp, hooks: string): void {
  app.writeConfig({ extraYaml: hooks });
  const file = join(app.dir, 'boxship.yml');
  // A volume the migration writes to and the app reads.
  writeFileSync(file, readFileSync(file, 'utf8').replace('app:\n  port: 3000\n', 'app:\n  port: 3000\n  volumes: { db: /app/db }\n'));
}

describe('hooks', () => {
  let app: ExampleApp;
  let v1: string;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    writeConfig(
      app,
      [
        'hooks:',
        '  pre_release: echo pre-release-check in $PWD',
        `  pre_rollout: [sh, -c, 'echo "migrated $BOXSHIP_SHA" >> /app/db/migrations && echo migration done']`,
        '  post_rollout: echo post-rollout-ran on $BOXSHIP_INSTANCE',
      ].join('\n'),
    );
    app.commit('hooks');
    ok(await boxship(['setup'], { cwd: app.dir }));
    // The image runs as node (uid 1000): let it write the volume, as the README says to.
    await onHost(HOSTS[0].container, 'chown 1000 /root/.boxship/hello/volumes/db');
  });

  it('deploy runs pre_release here, pre_rollout (a migration into a volume) and post_rollout on the first host', async () => {
    v1 = app.bumpVersion('h1');
    const r = await boxship(['deploy'], { cwd: app.dir });
    ok(r);
    expect(r.stdout).toContain(`pre-release-check in ${app.dir}`);
    expect(r.stdout).toContain('migration done');
    expect(r.stdout).toContain('post-rollout-ran on hello-post-rollout');
    expect(r.stderr).toMatch(/hook pre_rollout \(hello:\w{12} on root@127\.0\.0\.1:\d+\)/);
    expect(r.stderr).toMatch(/hook post_rollout: exit 0/);
    // What the migration wrote is there for the app's instances.
    const seen = await onHost(HOSTS[0].container, 'docker exec hello-1 cat /app/db/migrations');
    expect(seen).toBe(`migrated ${v1}\n`);
  });

  it('a failing pre_rollout stops deploy with exit 1 and nothing serving changes', async () => {
    writeConfig(app, ['hooks:', "  pre_rollout: 'echo failing migration >&2; exit 3'"].join('\n'));
    const v2 = app.bumpVersion('h2');
    const r = await boxship(['deploy', '--json'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as { release: { tag: string }; hooks: { name: string; exitCode: number }[]; exitCode: number };
    expect(out.release.tag).toBe(`hello:${v2}`);
    expect(out.hooks).toEqual([{ name: 'pre_rollout', host: HOSTS[0].address, exitCode: 3 }]);
    expect(out.exitCode).toBe(1);
    expect(r.stderr).toContain('failing migration');
    expect(r.stderr).toContain('the pre_rollout hook failed with exit code 3');
    const st = await boxship(['status', '--json'], { cwd: app.dir });
    for (const h of JSON.parse(st.stdout) as StatusJson[]) {
      expect(h.current).toBe(v1);
      expect(h.instances.map((i) => i.tag)).toEqual([v1]);
    }
  });

  it('a pre_rollout that runs longer than hooks.timeout_seconds is stopped, its container removed, and fails the deploy', async () => {
    // sleep as PID 1 ignores the SIGTERM docker passes on: the container is killed and removed 10 s later.
    writeConfig(app, ['hooks:', '  pre_rollout: [sleep, "300"]', '  timeout_seconds: 2'].join('\n'));
    app.bumpVersion('h2b');
    const t0 = Date.now();
    const r = await boxship(['deploy'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('the hook ran longer than hooks.timeout_seconds (2s): stopped, its container removed');
    expect(r.stderr).toMatch(/the pre_rollout hook failed with exit code (124|137)/);
    expect(Date.now() - t0).toBeLessThan(120_000);
    expect((await onHost(HOSTS[0].container, "docker ps -a --format '{{.Names}}' | grep -c pre-rollout || true")).trim()).toBe('0');
  });

  it('a failing pre_release stops before the build (exit 1, nothing shipped)', async () => {
    writeConfig(app, ['hooks:', '  pre_release: [sh, -c, "echo tests failed; exit 5"]'].join('\n'));
    const v3 = app.bumpVersion('h3');
    const r = await boxship(['deploy'], { cwd: app.dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('tests failed');
    expect(r.stderr).toContain('the pre_release hook failed with exit code 5; nothing was built or shipped');
    const rs = await boxship(['releases', '--json'], { cwd: app.dir });
    for (const h of JSON.parse(rs.stdout) as { releases: { tag: string }[] }[]) expect(h.releases.map((e) => e.tag)).not.toContain(v3);
  });
});
