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

  it('in a container: stopped with the app’s stop signal, which docker run passes on to the container', () => {
    // A docker run that stops cleanly only on SIGINT and says which signal it got (as a STOP_ON=SIGINT app would).
    const body = [
      'echo "$*" >> "$DIR/docker.log"',
      '[ "$1" = run ] || exit 0',
      'trap \'echo INT >> "$DIR/signals"; exit 0\' INT',
      'trap \'echo TERM >> "$DIR/signals"\' TERM',
      'i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done',
    ].join('\n');
    const host = shims('boxship-hook-', { docker: body });
    try {
      const run = command('write', 'run npm run migrate in a one-off container', 'docker', 'run', '--rm', '--name', 'hello-pre-rollout-1', 'hello:abc', 'npm');
      const c = timeLimited(run, 'hello-pre-rollout-1', 1, 'SIGINT');
      const r = spawnSync(c.argv[0]!, c.argv.slice(1), { encoding: 'utf8', env: host.env });
      expect(host.read('signals')).toBe('INT\n');
      expect(r.status).toBe(124);
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
