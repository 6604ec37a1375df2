/**
 * The rollout orchestration against scripted runners: every fault path of runRollout, the lock and converge, fast
 * and without a host. (The same paths run on real hosts in test/integration/rollout*.test.ts.)
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DryRunRunner } from '../../src/hosts/runner.js';
import type { DeployContext } from '../../src/fleet/context.js';
import { convergeSteps } from '../../src/rollout/converge.js';
import { parseInstances } from '../../src/rollout/instance-commands.js';
import { runRollout } from '../../src/rollout/run.js';
import { LockHeldError, withLock } from '../../src/fleet/lock.js';
import { rolloutHook } from '../../src/hooks/around.js';
import { lockInfoHere, staleReason } from '../../src/state/lock.js';
import { HostError } from '../../src/util/errors.js';
import type { ProgressEvent } from '../../src/util/events.js';
import { containerLine, hostConfig, ScriptedRunner } from '../helpers/scripted-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-run-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  [
    'service: hello',
    'hosts: [root@h1]',
    'instances: 2',
    'app: { port: 3000, drain_seconds: 2, stop_timeout_seconds: 10 }',
    'healthcheck: { path: /health, interval: 1s, retries: 3 }',
  ].join('\n'),
  join(dir, 'boxship.yml'),
);
const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

/** A host whose two slots run OLD (blue), answering every command with success unless a test says otherwise. */
function host(
  name = 'h1',
  containers = [containerLine('hello', 'hello-1', OLD, 1, 'blue'), containerLine('hello', 'hello-2', OLD, 2, 'blue')],
): ScriptedRunner {
  return new ScriptedRunner(hostConfig(name), [{ match: /^list the hello instances$/, answer: { stdout: containers.join('\n') } }]);
}

function context(hosts: ScriptedRunner[] | DryRunRunner[], events: ProgressEvent[] = []): DeployContext {
  return { config, hosts, who: 'tester@here', command: 'boxship rollout', report: (e) => events.push(e) };
}

const healthFails = (container: string) => ({
  match: new RegExp(`^wait until ${container.replace('.', '\\.')} passes`),
  answer: {
    code: 4,
    stderr:
      'http://hello-2-green:3000/health did not answer 2xx within 3s\nfirst error line: MongoParseError: URI contained empty userinfo section\nlast lines of hello-2.next:\n  at parse (x.js:1)',
  },
});

describe('runRollout', () => {
  it('moves one slot at a time; each old instance drains in the background, and the run ends without waiting for them', async () => {
    const h = host();
    const steps: string[] = [];
    const ctx = context([h]);
    const outcome = await runRollout({ ...ctx, report: (e) => e.kind === 'step' && steps.push(e.message) }, { target: NEW, kind: 'rollout' });
    expect(outcome).toMatchObject({ kind: 'done', complete: true, remaining: 0 });
    expect(h.whys().at(-1)).toBe(`record that ${NEW} is serving`);
    expect(steps.at(-1)).toBe(
      '2 old instance(s) finish their requests on their hosts in the background (up to 12s), then are removed; boxship status shows them',
    );
  });

  it('with wait, the run ends once every drain has finished', async () => {
    const h = host();
    const outcome = await runRollout(context([h]), { target: NEW, kind: 'rollout', wait: true });
    expect(outcome).toMatchObject({ kind: 'done', complete: true, remaining: 0 });
    expect(h.whys()).toEqual([
      'list the hello instances',
      `start hello-1.next (green) on ${NEW}`,
      'wait until hello-1.next passes /health (up to 3s)',
      'hand hello-1 over to hello-1.next',
      'drain hello-1.old-blue in the background (up to 12s), then remove it',
      `start hello-2.next (green) on ${NEW}`,
      'wait until hello-2.next passes /health (up to 3s)',
      'hand hello-2 over to hello-2.next',
      'drain hello-2.old-blue in the background (up to 12s), then remove it',
      `record that ${NEW} is serving`,
      'wait for 2 old instance(s) to finish draining (up to 17s)',
    ]);
  });

  it("puts back every changed instance when a health check fails, and shows the app's own error line", async () => {
    const h = host().on(healthFails('hello-2.next'));
    const outcome = await runRollout(context([h]), { target: NEW, kind: 'rollout' });
    expect(outcome.kind).toBe('rolled-back');
    if (outcome.kind !== 'rolled-back') return;
    expect(outcome.error.message).toContain('MongoParseError: URI contained empty userinfo section');
    expect(outcome.error.message).not.toContain('sh -c');
    const whys = h.whys();
    // The failed instance is removed; slot 1 goes back to OLD, after the old blue instance (same alias) has drained.
    expect(whys.slice(whys.indexOf('wait until hello-2.next passes /health (up to 3s)') + 1)).toEqual([
      'remove hello-2.next',
      'wait for 1 old instance(s) to finish draining (up to 17s)',
      `start hello-1.next (blue) on ${OLD}`,
      'wait until hello-1.next passes /health (up to 3s)',
      'hand hello-1 over to hello-1.next',
      'drain hello-1.old-green in the background (up to 12s), then remove it',
    ]);
    expect(whys).not.toContain(`record that ${NEW} is serving`);
  });

  it('reports a failed rollback with the instances it could not put back', async () => {
    const h = host()
      .on(healthFails('hello-2.next'))
      .on({
        match: new RegExp(`start hello-1.next \\(blue\\) on ${OLD}`),
        answer: { code: 125, stderr: 'docker: Error response from daemon: no space left on device.' },
      });
    const outcome = await runRollout(context([h]), { target: NEW, kind: 'rollout' });
    expect(outcome.kind).toBe('rollback-failed');
    if (outcome.kind !== 'rollback-failed') return;
    expect(outcome.rollbackError.message).toContain('no space left on device');
    expect(outcome.stuck.map((m) => `${m.host} slot ${m.slot} -> ${m.to.slice(0, 4)}`)).toEqual(['h1 slot 1 -> aaaa']);
  });

  it('treats a runner timeout like any failed step: the run is rolled back', async () => {
    const h = host().on({ match: /^start hello-2\.next/, answer: { error: new HostError('h1', 'start hello-2.next: no answer within 60s, gave up') } });
    const outcome = await runRollout(context([h]), { target: NEW, kind: 'rollout' });
    expect(outcome.kind).toBe('rolled-back');
    if (outcome.kind === 'rolled-back') expect(outcome.error.message).toBe('h1: start hello-2.next: no answer within 60s, gave up');
  });

  it('stops after the move in flight when interrupted, leaves the drain going and records nothing as serving', async () => {
    const ctx = context([]);
    const interrupt = { requested: false };
    const h = host().on({
      match: /^hand hello-1 over/,
      answer: () => {
        interrupt.requested = true;
        return {};
      },
    });
    const outcome = await runRollout({ ...ctx, hosts: [h], interrupt }, { target: NEW, kind: 'rollout' });
    expect(outcome).toMatchObject({ kind: 'interrupted', remaining: 1 });
    expect(h.whys().filter((w) => w.startsWith('start'))).toEqual([`start hello-1.next (green) on ${NEW}`]);
    expect(h.whys().at(-1)).toBe('drain hello-1.old-blue in the background (up to 12s), then remove it');
    expect(h.whys()).not.toContain(`record that ${NEW} is serving`);
  });

  it('moves only N instances for a canary, across hosts in order', async () => {
    const a = host('h1');
    const b = host('h2');
    const outcome = await runRollout(context([a, b]), { target: NEW, kind: 'rollout', canary: 1 });
    expect(outcome).toMatchObject({ kind: 'done', complete: false, remaining: 3 });
    expect(a.whys().filter((w) => w.startsWith('start'))).toHaveLength(1);
    expect(b.whys().filter((w) => w.startsWith('start'))).toHaveLength(0);
  });

  it('first converges what an interrupted run left: a .next beside the live instance is removed', async () => {
    const events: ProgressEvent[] = [];
    const h = host('h1', [
      containerLine('hello', 'hello-1', OLD, 1, 'blue'),
      containerLine('hello', 'hello-1.next', NEW, 1, 'green'),
      containerLine('hello', 'hello-2', OLD, 2, 'blue'),
    ]);
    await runRollout(context([h], events), { target: OLD, kind: 'rollback' });
    expect(h.whys().slice(0, 3)).toEqual(['list the hello instances', 'remove hello-1.next', 'list the hello instances']);
    expect(events.some((e) => e.kind === 'warning' && e.message.includes('hello-1.next: started by an interrupted run'))).toBe(true);
  });
});

describe('convergeSteps', () => {
  const parse = (...lines: string[]) => parseInstances(lines.join('\n'));
  it('completes a hand-over cut between its renames: the healthy .next takes the slot, the old one drains', () => {
    const steps = convergeSteps(
      config,
      parse(containerLine('hello', 'hello-1.next', NEW, 1, 'green'), containerLine('hello', 'hello-1.old-blue', OLD, 1, 'blue')),
    );
    expect(steps.map((s) => s.command.why)).toEqual([
      "give hello-1.next the slot's name hello-1",
      'drain hello-1.old-blue in the background (up to 12s), then remove it',
    ]);
  });
  it('gives a lone old instance its name back', () => {
    const steps = convergeSteps(config, parse(containerLine('hello', 'hello-1.old-blue', OLD, 1, 'blue')));
    expect(steps.map((s) => s.command.why)).toEqual(["give hello-1.old-blue the slot's name hello-1"]);
  });
  it('does nothing on a clean host', () => {
    expect(convergeSteps(config, parse(containerLine('hello', 'hello-1', OLD, 1, 'blue')))).toEqual([]);
  });
});

describe('withLock', () => {
  const held = (info: object, age: number) => ({ match: /^take the deploy lock/, times: 1, answer: { code: 75, stdout: JSON.stringify({ age, info }) } });

  it('refuses when a live command holds the lock, gives back the locks it took, and runs nothing', async () => {
    const a = host('h1');
    const b = host('h2').on(held({ who: 'ann@laptop', command: 'boxship rollout', time: 't', machine: 'elsewhere', pid: 1 }, 3));
    let ran = false;
    await expect(
      withLock(
        context([a, b]),
        async () => (ran = true),
        () => 'x',
      ),
    ).rejects.toBeInstanceOf(LockHeldError);
    expect(ran).toBe(false);
    expect(a.whys()).toEqual(['take the deploy lock (boxship rollout)', 'release the deploy lock']);
  });

  it('takes over a lock whose holder died on this machine, saying which run it was', async () => {
    const events: ProgressEvent[] = [];
    const here = lockInfoHere('me@here', 'boxship rollout');
    const h = host('h1').on(held({ who: 'me@here', command: 'boxship rollout', time: 't', machine: hostname(), pid: 2 ** 22 + 12345, pidns: here.pidns }, 1));
    await withLock(
      context([h], events),
      async () => 1,
      () => 'done',
    );
    expect(h.whys()).toEqual([
      'take the deploy lock (boxship rollout)',
      'take over a stale deploy lock',
      'take the deploy lock (boxship rollout)',
      'append to the audit log',
      'release the deploy lock',
    ]);
    expect(events.map((e) => (e.kind === 'warning' ? e.message : ''))).toContainEqual(
      expect.stringMatching(/an interrupted run held the lock \(me@here running "boxship rollout" since t; its process \d+ on .* is gone\)/),
    );
  });

  it('writes the audit entry and releases the lock when the action fails', async () => {
    const h = host('h1');
    await expect(
      withLock(
        context([h]),
        async () => {
          throw new Error('boom');
        },
        () => 'x',
      ),
    ).rejects.toThrow('boom');
    expect(h.whys().slice(-2)).toEqual(['append to the audit log', 'release the deploy lock']);
    expect(h.ran.find((r) => r.why === 'append to the audit log')?.line).toContain('boom');
  });

  it('is re-entrant: hooks and the rollout between them run under one lock, taken and released once', async () => {
    const h = host('h1');
    const ctx = { ...context([h]), lock: { held: false } };
    const inner = await withLock(
      ctx,
      // Copies of the context (a rollout makes one) share the lock: the inner lock is the outer one.
      () =>
        withLock(
          { ...ctx, proxySettings: new Map() },
          async () => 'moved',
          () => 'inner',
        ),
      () => 'outer',
    );
    expect(inner).toBe('moved');
    expect(h.whys()).toEqual(['take the deploy lock (boxship rollout)', 'append to the audit log', 'release the deploy lock']);
    expect(h.ran.find((r) => r.why === 'append to the audit log')?.line).toContain('outer');
    expect(ctx.lock.held).toBe(false);
  });
});

describe('hooks in a plan', () => {
  it('records the post_rollout hook with what it would run, and runs nothing', async () => {
    const hooked = parseConfig(
      ['service: hello', 'hosts: [root@h1]', 'app: { port: 3000 }', "hooks: { post_rollout: 'node scripts/warm-cache.js' }"].join('\n'),
      join(dir, 'boxship.yml'),
    );
    const real = host('h1');
    const dry = new DryRunRunner(real);
    const run = await rolloutHook({ ...context([dry]), config: hooked }, 'post_rollout', NEW, { stdout: process.stdout, stderr: process.stderr }, {} as never);
    expect(run).toEqual({ name: 'post_rollout', host: 'h1', exitCode: 0 });
    expect(dry.describe().join('\n')).toContain(`run the post_rollout hook in a one-off container of hello:${NEW.slice(0, 12)}: node scripts/warm-cache.js`);
    expect(real.whys()).toEqual([]);
  });
});

describe('staleReason', () => {
  it('is stale when the holder pid is gone here, or after 45 s without a heartbeat anywhere', () => {
    const info = { who: 'x', command: 'c', time: 't', machine: 'm1', pid: 42, pidns: 'ns1' };
    expect(staleReason({ info, ageSeconds: 5 }, 'm1', () => false, 'ns1')).toBe('its process 42 on m1 is gone');
    expect(staleReason({ info, ageSeconds: 5 }, 'm1', () => true, 'ns1')).toBeUndefined();
    expect(staleReason({ info, ageSeconds: 5 }, 'm2', () => false, 'ns1')).toBeUndefined();
    expect(staleReason({ info, ageSeconds: 46 }, 'm2', () => true, 'ns1')).toBe('no heartbeat for 46s');
  });
});

describe('--plan', () => {
  it('runs reads for real and records writes: the same orchestration, nothing changed', async () => {
    const real = host();
    const dry = new DryRunRunner(real);
    const outcome = await runRollout(context([dry]), { target: NEW, kind: 'rollout' });
    expect(outcome).toMatchObject({ kind: 'done', complete: true });
    expect(real.whys()).toEqual(['list the hello instances']);
    expect(dry.steps.map((s) => s.cmd.why)).toContain('hand hello-2 over to hello-2.next');
    expect(dry.describe().join('\n')).toContain('docker run -d --pull never --name hello-1.next');
  });
});
