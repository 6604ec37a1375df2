/** The time limit of hooks (hooks.timeout_seconds): the scripts and processes run here, with a stand-in docker. */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { command } from '../../src/hosts/command.js';
import { runLocalHook, timeLimited } from '../../src/hooks/run.js';
import { shims } from '../helpers/shims.js';

describe('a hook that runs too long', () => {
  it('in a container: its docker run is stopped on the host and the container removed (exit 124)', () => {
    // docker run hangs until SIGTERM ends it, as the signal docker passes on ends a well-behaved hook.
    const host = shims('boxship-hook-', { docker: 'echo "$*" >> "$DIR/docker.log"\n[ "$1" = run ] && exec sleep 30\nexit 0' });
    try {
      const run = command('write', 'run npm run migrate in a one-off container', 'docker', 'run', '--rm', '--name', 'hello-pre-rollout-1', 'hello:abc', 'npm');
      const c = timeLimited(run, 'hello-pre-rollout-1', 1);
      expect(c.why).toBe('run npm run migrate in a one-off container (up to 1s)');
      const t0 = Date.now();
      const r = spawnSync(c.argv[0]!, c.argv.slice(1), { encoding: 'utf8', env: host.env });
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(r.status).toBe(124);
      expect(r.stderr).toContain('the hook ran longer than hooks.timeout_seconds (1s): stopped, its container removed');
      expect(host.read('docker.log')).toContain('rm -f hello-pre-rollout-1');
    } finally {
      rmSync(host.dir, { recursive: true, force: true });
    }
  });

  it('here (pre_release): stopped with SIGTERM after the limit, saying so', async () => {
    const stderr = new PassThrough();
    let said = '';
    stderr.on('data', (c) => (said += c));
    const t0 = Date.now();
    const r = await runLocalHook(['sleep', '30'], tmpdir(), { stdout: new PassThrough(), stderr }, 1);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(r).toEqual({ code: 128, signal: 'SIGTERM' });
    expect(said).toContain('the hook ran longer than hooks.timeout_seconds (1s): stopped');
  });
});
