/**
 * The deploy lock against a stalled holder, on a real host: a holder suspended (SIGSTOP, a laptop asleep) past the
 * stale window is taken over; when it wakes it must notice it lost the lock, stop changing the host with an error
 * naming the new holder, and leave the new holder's lock in place.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { SshHost } from '../../src/hosts/ssh.js';
import { HOSTS, REPO, testHostConfig } from '../helpers/paths.js';
import { makeExampleApp } from '../helpers/example.js';
import { boxship, onHost } from '../helpers/run.js';

const STALE_SECONDS = 3;
const h = HOSTS[0];
const hostConfig = testHostConfig(h);
const service = `locktest${Date.now()}`;
const marker = `/tmp/${service}.changes`;

/** A holder that takes the lock and changes the host (a line in `marker`) every 300 ms, checking the lock first. */
const HOLDER = `
import { withLock } from '${REPO}/src/fleet/lock.js';
import { SshHost } from '${REPO}/src/hosts/ssh.js';
const ssh = await SshHost.connect(${JSON.stringify(hostConfig)});
const ctx = { config: { service: '${service}' }, hosts: [ssh], who: 'stalled@test', command: 'boxship rollout', report: (e) => console.error(e.message), lock: { held: false } };
try {
  await withLock(ctx, async () => {
    for (let i = 0; i < 200; i++) {
      await ctx.lock.verify(ssh.name);
      await ssh.run({ argv: ['sh', '-c', 'echo change >> ${marker}'], why: 'change the host', effect: 'write' });
      console.log('changed');
      await new Promise((r) => setTimeout(r, 300));
    }
  }, () => 'done');
  process.exitCode = 0;
} catch (err) {
  console.error('FAILED: ' + err.message);
  process.exitCode = 1;
} finally {
  ssh.close();
}
`;

const changes = async () => Number((await onHost(h.container, `cat ${marker} 2>/dev/null | wc -l`)).trim());

describe('a stalled lock holder', () => {
  it('is taken over after the stale window; woken, it stops with an error naming the new holder and leaves the new lock alone', async () => {
    process.env.BOXSHIP_LOCK_STALE_SECONDS = String(STALE_SECONDS);
    const { withLock } = await import('../../src/fleet/lock.js');
    const { parseLockInfo, readLock } = await import('../../src/state/lock.js');
    const file = join(mkdtempSync(join(tmpdir(), 'boxship-lock-holder-')), 'holder.mts');
    writeFileSync(file, HOLDER);
    // One process (the tsx CLI would run the script in a child of its own, which SIGSTOP would not reach).
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: REPO,
      env: { ...process.env, BOXSHIP_LOCK_STALE_SECONDS: String(STALE_SECONDS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const ssh = await SshHost.connect(hostConfig);
    try {
      for (let t = 0; !stdout.includes('changed\nchanged\n'); t++) {
        if (t > 300) throw new Error(`the holder never got going:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, (STALE_SECONDS + 2) * 1000));
      const warnings: string[] = [];
      const ctx: DeployContext = {
        config: { service } as Config,
        hosts: [ssh],
        who: 'taker@test',
        command: 'boxship rollout',
        report: (e) => warnings.push(e.kind === 'warning' ? e.message : ''),
        lock: { held: false },
      };
      await withLock(
        ctx,
        async () => {
          const ours = await ssh.run(readLock(`.boxship/${service}`));
          expect(parseLockInfo(ours)?.who).toBe('taker@test');
          const before = await changes();
          child.kill('SIGCONT');
          expect(await exited).toBe(1);
          expect(stderr).toMatch(/FAILED: .*lost the deploy lock: taker@test running "boxship rollout" since \S+ took it over/);
          // At most the change in flight when it was suspended, none after it woke.
          expect(await changes()).toBeLessThanOrEqual(before + 1);
          // The new holder's lock is still there, untouched.
          expect(await ssh.run(readLock(`.boxship/${service}`))).toBe(ours);
        },
        () => 'done',
      );
      expect(warnings.join('\n')).toMatch(/an interrupted run held the lock \(stalled@test .*no heartbeat for \d+s\)/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      ssh.close();
      await onHost(h.container, `rm -rf ${marker} .boxship/${service} /root/.boxship/${service}`);
    }
  }, 60_000);
});

describe('lock release', () => {
  it('refuses a holder whose heartbeat is fresh (exit 2, naming it, lock kept); --force releases it', async () => {
    const app = makeExampleApp();
    app.writeConfig({});
    app.commit('config');
    const lock = '/root/.boxship/hello/lock';
    const info = JSON.stringify({ who: 'ann@laptop', command: 'boxship rollout', time: '2026-01-01T00:00:00Z', machine: 'elsewhere', pid: 1 });
    await onHost(h.container, `mkdir -p ${lock} && printf '%s\\n' '${info}' > ${lock}/info.json`);
    try {
      const r = await boxship(['lock', 'release'], { cwd: app.dir });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('held by ann@laptop running "boxship rollout" since 2026-01-01T00:00:00Z');
      expect(r.stderr).toContain('boxship lock release --force');
      expect((await onHost(h.container, `cat ${lock}/info.json`)).trim()).toBe(info);
      const forced = await boxship(['lock', 'release', '--force'], { cwd: app.dir });
      expect(forced.code, `${forced.stdout}\n${forced.stderr}`).toBe(0);
      expect(forced.stdout).toContain('released the lock held by ann@laptop');
      expect((await onHost(h.container, `test -e ${lock} && echo held || echo gone`)).trim()).toBe('gone');
    } finally {
      await onHost(h.container, `rm -rf ${lock}`);
    }
  });
});
