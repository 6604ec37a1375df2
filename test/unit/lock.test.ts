/**
 * The deploy lock's ownership: a holder knows its lock by a token, its heartbeat notices a takeover, a run that lost
 * its lock stops before changing more and never removes the new holder's lock; and the "its pid is gone" rule holds
 * only within the pid namespace it was written in. The lock scripts run here in sh, on a temp folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { withLock } from '../../src/fleet/lock.js';
import { releaseLocks } from '../../src/fleet/lock-release.js';
import { type Command, toShell } from '../../src/hosts/command.js';
import { runRollout } from '../../src/rollout/run.js';
import { acquireLock, breakStaleLock, heartbeat, lockInfoHere, parseHeldLock, releaseLock, staleReason } from '../../src/state/lock.js';
import { containerLine, hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-lock-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(['service: hello', 'hosts: [root@h1]', 'instances: 2', 'app: { port: 3000 }'].join('\n'), join(dir, 'boxship.yml'));
const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

const sh = (cmd: Command): number => {
  try {
    execFileSync('sh', ['-c', toShell(cmd)], { stdio: 'pipe' });
    return 0;
  } catch (err) {
    return (err as { status: number }).status;
  }
};

function host(): ScriptedRunner {
  return new ScriptedRunner(hostConfig('h1'), [
    { match: /^list the hello instances$/, answer: { stdout: [1, 2].map((s) => containerLine('hello', `hello-${s}`, OLD, s, 'blue')).join('\n') } },
  ]);
}

function context(h: ScriptedRunner): DeployContext & { lock: NonNullable<DeployContext['lock']> } {
  return { config, hosts: [h], who: 'ann@laptop', command: 'boxship rollout', report: () => {}, lock: { held: false } };
}

describe('the lock scripts', () => {
  it('refresh and release the lock only while it is still ours', () => {
    const state = mkdtempSync(join(tmpdir(), 'boxship-lockdir-'));
    const mine = lockInfoHere('ann@laptop', 'boxship rollout');
    const theirs = lockInfoHere('bob@ci', 'boxship rollout');
    expect(mine.token).toMatch(/^[0-9a-f]{16,}$/);
    expect(mine.token).not.toBe(theirs.token);
    expect(sh(acquireLock(state, mine))).toBe(0);
    expect(sh(heartbeat(state, JSON.stringify(mine)))).toBe(0);
    // Taken over while we were stalled: the new holder's info is in the lock now.
    writeFileSync(join(state, 'lock', 'info.json'), `${JSON.stringify(theirs)}\n`);
    expect(sh(heartbeat(state, JSON.stringify(mine)))).not.toBe(0);
    expect(sh(releaseLock(state, JSON.stringify(mine)))).toBe(0);
    expect(readFileSync(join(state, 'lock', 'info.json'), 'utf8')).toBe(`${JSON.stringify(theirs)}\n`);
    expect(sh(releaseLock(state, JSON.stringify(theirs)))).toBe(0);
    expect(existsSync(join(state, 'lock'))).toBe(false);
  });
});

describe('a lock left with an empty or torn info (a full disk)', () => {
  const held = (state: string): string => {
    try {
      execFileSync('sh', ['-c', toShell(acquireLock(state, lockInfoHere('bob@ci', 'boxship rollout')))], { stdio: 'pipe' });
      return '';
    } catch (err) {
      return String((err as { stdout: Buffer }).stdout);
    }
  };
  it('goes stale once it is older than the stale window, and can be broken', () => {
    for (const text of ['', '{"who":"ann@lap']) {
      const state = mkdtempSync(join(tmpdir(), 'boxship-lockdir-'));
      mkdirSync(join(state, 'lock'));
      writeFileSync(join(state, 'lock', 'info.json'), text);
      const old = new Date(Date.now() - 120_000);
      utimesSync(join(state, 'lock', 'info.json'), old, old);
      const h = parseHeldLock(held(state));
      expect(h.infoText).toBe(text);
      expect(h.ageSeconds).toBeGreaterThanOrEqual(119);
      expect(staleReason(h)).toMatch(/^no heartbeat for \d+s$/);
      expect(sh(breakStaleLock(state, h.infoText))).toBe(0);
      expect(existsSync(join(state, 'lock'))).toBe(false);
    }
  });

  it('is never left behind: a lock whose info cannot be written is given back at once', () => {
    const state = mkdtempSync(join(tmpdir(), 'boxship-lockdir-'));
    // The script with its info path pointed into a folder that does not exist: the write fails, as on a full disk.
    const c = acquireLock(state, lockInfoHere('ann@laptop', 'boxship rollout'));
    const failing = { ...c, argv: c.argv.map((a) => a.replace('> "$2/info.json"', '> "$2/info.json/x"')) };
    expect(sh(failing)).toBe(1);
    expect(existsSync(join(state, 'lock'))).toBe(false);
  });
});

describe('a holder that lost its lock', () => {
  const takenOver = {
    match: /^refresh the deploy lock/,
    answer: { code: 76, stdout: JSON.stringify({ who: 'bob@ci', command: 'boxship rollout', time: '2026-12-03T10:00:00Z' }) },
  };

  it('notices at its next check, fails naming the new holder, and leaves the new lock alone', async () => {
    const h = host().on(takenOver);
    const ctx = context(h);
    await expect(
      withLock(
        ctx,
        () => ctx.lock.verify!('h1'),
        () => 'done',
      ),
    ).rejects.toThrow(/h1: lost the deploy lock: bob@ci running "boxship rollout" since 2026-12-03T10:00:00Z took it over/);
    expect(h.whys()).not.toContain('release the deploy lock');
  });

  it('stops a rollout before its next move, without putting back what another holder now owns', async () => {
    // Ours at the check before the first move, taken over by the second.
    const h = host().on({ match: /^refresh the deploy lock/, times: 1, answer: {} }, takenOver);
    const ctx = context(h);
    await expect(
      withLock(
        ctx,
        () => runRollout(ctx, { target: NEW, kind: 'rollout' }),
        () => 'done',
      ),
    ).rejects.toThrow(/lost the deploy lock/);
    expect(h.whys().filter((w) => w.startsWith('start '))).toEqual([`start hello-1.next (green) on ${NEW}`]);
    // Nothing changes after the check that found the lock taken over: no next move, nothing put back.
    const whys = h.whys();
    expect(whys.slice(whys.lastIndexOf('refresh the deploy lock') + 1)).toEqual(['append to the audit log']);
  });

  it('releases with its token when it kept the lock to the end', async () => {
    const h = host();
    await withLock(
      context(h),
      async () => 1,
      () => 'done',
    );
    const token = /"token":"([0-9a-f]+)"/.exec(h.ran[0]!.line)?.[1];
    expect(token).toBeTruthy();
    expect(h.ran.find((r) => r.why === 'release the deploy lock')!.line).toContain(token);
  });
});

describe('the pid rule of staleness', () => {
  const info = { who: 'x', command: 'c', time: 't', machine: 'ci', pid: 42, pidns: 'boot-1/pid:[4026532500]' };
  it('holds only in the pid namespace the lock was written in (containers share a host name, not their pids)', () => {
    expect(staleReason({ info, ageSeconds: 5 }, 'ci', () => false, 'boot-1/pid:[4026532500]')).toBe('its process 42 on ci is gone');
    expect(staleReason({ info, ageSeconds: 5 }, 'ci', () => false, 'boot-1/pid:[4026532777]')).toBeUndefined();
    expect(staleReason({ info: { ...info, pidns: undefined }, ageSeconds: 5 }, 'ci', () => false, 'boot-1/pid:[4026532500]')).toBeUndefined();
    expect(staleReason({ info, ageSeconds: 46 }, 'ci', () => true, 'other')).toBe('no heartbeat for 46s');
  });

  it('is written with the lock: the boot and the pid namespace of this process', () => {
    if (!existsSync('/proc/self/ns/pid')) return;
    expect(lockInfoHere('x', 'c').pidns).toMatch(/^[0-9a-f-]{36}\/pid:\[\d+\]$/);
  });
});

describe('lock release', () => {
  const ann = { who: 'ann@laptop', command: 'boxship rollout', time: '2026-01-01T00:00:00Z', machine: 'elsewhere', pid: 1 };
  const holding = (name: string, age: number | undefined) =>
    new ScriptedRunner(hostConfig(name), [
      { match: /^read the deploy lock$/, answer: { stdout: age === undefined ? '' : `${JSON.stringify(ann)}\n` } },
      { match: /^check the deploy lock heartbeat$/, answer: { stdout: age === undefined ? '' : `${age}\n` } },
    ]);
  const by = { who: 'bob@ci', command: 'boxship lock release' };
  const released = (h: ScriptedRunner) => h.whys().includes('release the deploy lock');

  it('refuses on every host while any holder sends its heartbeat, naming it; releases nothing', async () => {
    const [h1, h2] = [holding('h1', 120), holding('h2', 3)];
    const r = await releaseLocks([h1, h2], '.boxship/hello', by, false);
    expect(r).toEqual({ hosts: [], refused: [{ host: 'h2', heldBy: { who: 'ann@laptop', command: 'boxship rollout', time: ann.time }, ageSeconds: 3 }] });
    expect([h1, h2].map(released)).toEqual([false, false]);
  });

  it('releases a stale or absent lock at once, and a live one with force (the audit log says so)', async () => {
    const [stale, none] = [holding('h1', 120), holding('h2', undefined)];
    const r = await releaseLocks([stale, none], '.boxship/hello', by, false);
    expect(r).toEqual({ hosts: [{ host: 'h1', heldBy: { who: 'ann@laptop', command: 'boxship rollout', time: ann.time } }, { host: 'h2' }], refused: [] });
    expect([stale, none].map(released)).toEqual([true, true]);
    const live = holding('h1', 3);
    expect((await releaseLocks([live], '.boxship/hello', by, true)).hosts).toHaveLength(1);
    expect(released(live)).toBe(true);
    expect(live.ran.find((x) => /audit/.test(x.why))!.line).toContain('alive (--force)');
  });
});
