/**
 * `--plan` prints what the dry-run runner recorded: every command line quoted for a POSIX shell, so a pasted plan
 * does what the real run does and never runs a user's text (a maintenance --message) as shell.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DryRunRunner } from '../../src/hosts/runner.js';
import type { ProxyMode } from '../../src/proxy/caddy-answers.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { ensureHost } from '../../src/rollout/setup.js';
import { hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-plan-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  ['service: hello', 'hosts: [root@10.0.0.5]', 'app: { port: 3000 }', 'healthcheck: { path: /health }'].join('\n'),
  join(dir, 'boxship.yml'),
);

/** The maintenance plan of one host, as `boxship maintenance on --plan` prints it. */
async function maintenancePlan(mode: ProxyMode): Promise<string[]> {
  // A host with the proxy running and its image present: reads answer as such a host would.
  const host = new ScriptedRunner(hostConfig('h1'), [
    { match: /^check the proxy container$/, answer: { stdout: 'running boxship-proxy:caddy-2.6.2' } },
    { match: /^check that Docker is installed and answers$/, answer: { stdout: 'installed=yes\nserver=26.1.5\nroot=yes\n' } },
  ]);
  const dry = new DryRunRunner(host);
  const ctx: DeployContext = { config, hosts: [dry], who: 'me', command: 'boxship maintenance on --plan', report: () => {} };
  await ensureHost(ctx, dry, undefined as unknown as Docker, mode);
  // Only reads ran on the host.
  expect(host.ran.every((r) => !/^(put|record|write|start|remove)/.test(r.why))).toBe(true);
  return dry.describe();
}

describe('maintenance --plan', () => {
  it.each(['sh', 'bash'])('prints a --message as one quoted word: pasted into %s it writes the message and runs nothing else', async (shell) => {
    const home = mkdtempSync(join(tmpdir(), 'boxship-plan-home-'));
    const pwned = join(home, 'pwned');
    const message = `'; touch ${pwned}; ' "$(touch ${pwned})" \`touch ${pwned}\`\nsecond line`;
    const plan = await maintenancePlan({ kind: 'maintenance', retryAfterSeconds: 30, message });
    const i = plan.findIndex((l) => l.includes('# put the proxy in maintenance'));
    expect(i).toBeGreaterThanOrEqual(0);
    execFileSync(shell, ['-c', plan[i + 1]!], { cwd: home });
    expect(existsSync(pwned), 'the message ran as a command').toBe(false);
    expect(readFileSync(join(home, '.boxship/hello/proxy/maintenance/message.txt'), 'utf8')).toContain(message);
  });

  it('prints every command line so that a shell parses it, and every comment on one line', async () => {
    const plan = await maintenancePlan({ kind: 'maintenance', retryAfterSeconds: 5, message: 'a\nb' });
    for (const line of plan) {
      if (line.trimStart().startsWith('#')) expect(line).not.toMatch(/[\r\n]/);
      else execFileSync('sh', ['-n', '-c', line]); // throws on a syntax error
    }
  });
});
