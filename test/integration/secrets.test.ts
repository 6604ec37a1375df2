/**
 * Secret values are never printed: an app whose secrets file holds a recognisable connection string fails its health
 * check and prints that string (raw and URL-encoded) to stderr. Every command's stdout and stderr, with
 * BOXSHIP_DEBUG=1, and each host's audit log must not contain the secret, while the app's own error line is shown
 * with *** in its place.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exampleConfigYaml, makeExampleApp, type ExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, onHost, wipeHost, type RunResult } from '../helpers/run.js';

const PASSWORD = 'S3cr3t-Pa55-xyz';
const DB_URL = `mongodb://admin:${PASSWORD}@db/app`;
const TOKEN = 'tok_9f8e7d6c5b4a';
const env = { BOXSHIP_DEBUG: '1' };

/** Every output of every command this suite ran, for the final grep. */
const outputs: { args: string[]; result: RunResult }[] = [];

async function run(app: ExampleApp, args: string[]): Promise<RunResult> {
  const result = await boxship(args, { cwd: app.dir, env });
  outputs.push({ args, result });
  return result;
}

const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);

function expectNoSecret(text: string, where: string): void {
  for (const s of [PASSWORD, DB_URL, encodeURIComponent(DB_URL), TOKEN])
    expect(text.includes(s), `${where} contains a secret value (${s}):\n${text}`).toBe(false);
}

describe('secret values never leave boxship in clear text', () => {
  let app: ExampleApp;
  let failed: RunResult;

  beforeAll(async () => {
    await Promise.all(HOSTS.map((h) => wipeHost(h.container)));
    app = makeExampleApp();
    // The secrets file as the README suggests it: next to boxship.yml, git-ignored.
    writeFileSync(join(app.dir, '.gitignore'), '.env.secrets\n');
    writeFileSync(join(app.dir, '.env.secrets'), `DB_URL=${DB_URL}\nAPI_TOKEN=${TOKEN}\n`);
    writeFileSync(join(app.dir, 'boxship.yml'), exampleConfigYaml().replace('  port: 3000\n', '  port: 3000\n  secrets_file: .env.secrets\n'));
    app.commit('secrets file (git-ignored)');
    ok(await run(app, ['release']));
    ok(await run(app, ['rollout']));
    // A release that logs its connection string (as apps do on a failed connect) and never becomes healthy.
    const file = join(app.dir, 'server.js');
    const good = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      good.replace(
        /const VERSION = '[^']*';/,
        [
          "const VERSION = 'leaky';",
          "process.env.HEALTH_FAIL = '1';",
          'console.error(`db: cannot connect to ${process.env.DB_URL}: authentication failed`);',
          'console.error(`db: retrying with ${encodeURIComponent(process.env.DB_URL)} and token ${process.env.API_TOKEN}`);',
        ].join('\n'),
      ),
    );
    app.commit('a release that prints its secrets and fails its health check');
    ok(await run(app, ['release']));
    failed = await run(app, ['rollout']);
  });

  it('the app really got the secret (so masking is what keeps it out of the output)', async () => {
    const envFile = await onHost(HOSTS[0].container, 'cat /root/.boxship/hello/app.env');
    expect(envFile).toContain(`DB_URL=${DB_URL}`);
  });

  it("a failed health check shows the app's own error line with *** in place of the secret", () => {
    expect(failed.code, `${failed.stdout}\n${failed.stderr}`).toBe(1);
    expect(failed.stderr).toContain('failed its health check');
    expect(failed.stderr).toContain('db: cannot connect to ***: authentication failed');
    expect(failed.stderr).toContain('db: retrying with *** and token ***');
    expect(failed.stderr).toContain('Rolled back');
  });

  it('--plan, maintenance --plan, status and releases print no secret', async () => {
    ok(await run(app, ['rollout', '--plan']));
    const m = await run(app, ['maintenance', 'on', '--plan', '--message', "back soon'; touch /tmp/pwned; '"]);
    ok(m);
    expect(m.stdout).toContain('mode.json');
    ok(await run(app, ['status']));
    ok(await run(app, ['status', '--json']));
    ok(await run(app, ['releases']));
  });

  it('no command output contains a secret value, with BOXSHIP_DEBUG=1', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(9);
    // The debug trace was on: otherwise this would prove less.
    expect(outputs.some((o) => o.result.stderr.includes('[debug '))).toBe(true);
    for (const { args, result } of outputs) {
      expectNoSecret(result.stdout, `stdout of boxship ${args.join(' ')}`);
      expectNoSecret(result.stderr, `stderr of boxship ${args.join(' ')}`);
    }
  });

  it("each host's audit log records why the rollout failed, without the secret", async () => {
    for (const h of HOSTS) {
      const audit = await onHost(h.container, 'cat /root/.boxship/hello/audit.log');
      expectNoSecret(audit, `${h.name}'s audit.log`);
      expect(audit).toContain('rolled-back');
    }
    // The host whose instance failed has the app's line, masked.
    const all = (await Promise.all(HOSTS.map((h) => onHost(h.container, 'cat /root/.boxship/hello/audit.log')))).join('\n');
    expect(all).toContain('db: cannot connect to ***: authentication failed');
  });
});
