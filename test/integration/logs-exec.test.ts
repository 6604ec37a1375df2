/** `boxship logs` (merged, prefixed, following across a rollout) and `boxship exec` against the simulated hosts. */
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { BOXSHIP_BIN, HOSTS } from '../helpers/paths.js';
import { boxship, onHost, wipeHost, type RunResult } from '../helpers/run.js';

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

describe('logs and exec', () => {
  let app: ExampleApp;
  let sha: string;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    sha = app.bumpVersion('L1');
    ok(await boxship(['deploy'], { cwd: app.dir }));
  });

  it('exec runs a one-off container of the serving release with the app env, and passes its exit code through', async () => {
    const r = await boxship(['exec', '--', 'sh', '-c', 'echo "sha=$BOXSHIP_SHA port=$PORT"; echo to-stderr >&2; exit 7'], { cwd: app.dir });
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toBe(`sha=${sha} port=3000\n`);
    expect(r.stderr).toContain('to-stderr');
    // On the service network: it reaches the live instance by its alias. On the second host when asked.
    const net = await boxship(
      ['exec', '--host', HOSTS[1].address, '--', 'node', '-e', 'require("http").get("http://hello-1-blue:3000/", (r) => r.pipe(process.stdout))'],
      { cwd: app.dir },
    );
    ok(net);
    expect(JSON.parse(net.stdout)).toMatchObject({ version: 'L1', sha });
    // Stdin with -i; the one-off container is gone afterwards.
    const piped = await new Promise<RunResult>((resolve) => {
      const child = spawn(process.execPath, [BOXSHIP_BIN, 'exec', '-i', '--', 'wc', '-l'], { cwd: app.dir, env: { ...process.env, CI: 'true' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end('a\nb\nc\n');
    });
    ok(piped);
    expect(piped.stdout.trim()).toBe('3');
    expect((await onHost(HOSTS[0].container, 'docker ps -aq --filter label=dev.boxship.one-off=hello')).trim()).toBe('');
    const unknown = await boxship(['exec', '--release', 'f00f00', '--', 'true'], { cwd: app.dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('has no image on');
  });

  it('logs shows the lines of every instance on both hosts, each prefixed with host and instance', async () => {
    const r = await boxship(['logs', '--proxy'], { cwd: app.dir });
    ok(r);
    for (const h of HOSTS) {
      expect(r.stdout).toMatch(new RegExp(`^${h.address.replace(/[.]/g, '\\.')} hello-1/blue +\\| hello vL1 listening on :3000`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^${h.address.replace(/[.]/g, '\\.')} proxy +\\| \\{`, 'm'));
    }
  });

  it('logs -f follows across a rollout: the new instances are picked up; Ctrl-C ends it with exit 0', async () => {
    const child = spawn(process.execPath, [BOXSHIP_BIN, 'logs', '-f', '-n', '1'], {
      cwd: app.dir,
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const until = async (re: RegExp, ms: number) => {
      const end = Date.now() + ms;
      while (!re.test(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      expect(out, err).toMatch(re);
    };
    await until(/hello vL1 listening/, 20_000);
    app.bumpVersion('L2');
    ok(await boxship(['deploy'], { cwd: app.dir }));
    for (const h of HOSTS) await until(new RegExp(`${h.address.replace(/[.]/g, '\\.')} hello-1/green +\\| hello vL2 listening`), 20_000);
    // The old instances' shutdown lines came through too.
    expect(out).toMatch(/hello-1\/blue +\| hello: SIGTERM, draining/);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // No `docker logs` left running on the hosts.
    await new Promise((r) => setTimeout(r, 500));
    for (const h of HOSTS) expect(await onHost(h.container, 'ps -eo args | grep "^docker logs" || true')).toBe('');
  });
});
