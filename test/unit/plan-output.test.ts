import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maintenancePlan, planComment } from '../../src/cli/plan-output.js';
import { parseConfig } from '../../src/config/load.js';
import type { ProxyMode } from '../../src/proxy/caddy-config.js';
import { stateDir } from '../../src/state/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-plan-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(['service: hello', 'hosts: [root@10.0.0.5, root@10.0.0.6]', 'app: { port: 3000 }', 'healthcheck: { path: /health }'].join('\n'), join(dir, 'boxship.yml'));

/** Runs one printed plan line in a shell, in `cwd` (which stands for the SSH user's home). */
const run = (shell: string, line: string, cwd: string) => execFileSync(shell, ['-c', line], { cwd, encoding: 'utf8' });

describe('maintenance --plan', () => {
  it.each(['sh', 'bash'])('prints a --message as one quoted word: pasted into %s it writes the mode file and runs nothing else', (shell) => {
    const home = mkdtempSync(join(tmpdir(), 'boxship-plan-home-'));
    mkdirSync(join(home, stateDir('hello')), { recursive: true });
    const pwned = join(home, 'pwned');
    const mode: ProxyMode = { kind: 'maintenance', retryAfterSeconds: 30, message: `'; touch ${pwned}; ' "$(touch ${pwned})" \`touch ${pwned}\`\nsecond line` };
    const plan = maintenancePlan(config, config.hosts, stateDir('hello'), mode);
    const writes = plan.split('\n').filter((l) => l.includes('mode.json'));
    expect(writes).toHaveLength(2); // one per host, each on one line
    let failure: unknown;
    try {
      run(shell, writes[0]!, home);
    } catch (err) {
      failure = err;
    }
    expect(existsSync(pwned), 'the message ran as a command').toBe(false);
    expect(failure).toBeUndefined();
    // Exactly the bytes the real run writes (setup.ts: JSON.stringify(mode) on stdin).
    expect(readFileSync(join(home, stateDir('hello'), 'mode.json'), 'utf8')).toBe(JSON.stringify(mode));
  });

  it('prints every command line so that a shell parses it, and names each host', () => {
    const plan = maintenancePlan(config, config.hosts, stateDir('hello'), { kind: 'serving' });
    expect(plan).toContain('Plan: maintenance off on 2 hosts; nothing has been run.');
    expect(plan).toContain('\nroot@10.0.0.5\n');
    for (const line of plan.split('\n').filter((l) => l.startsWith('   ') && !l.trimStart().startsWith('#'))) {
      execFileSync('sh', ['-n', '-c', line]); // throws on a syntax error
    }
  });
});

describe('plan comments', () => {
  it('keep any text on one comment line', () => {
    const c = planComment('start it\nrm -rf /tmp/x\r\nmore');
    expect(c).toBe('   # start it rm -rf /tmp/x more\n');
    expect(c.trimEnd().split('\n')).toHaveLength(1);
  });
});
