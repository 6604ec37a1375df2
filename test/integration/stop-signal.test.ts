/**
 * app.stop_signal and accessories.<name>.stop_signal on a real host: the example app in STOP_ON=SIGINT mode ignores
 * SIGTERM and exits 0 only on SIGINT. A rollout's drain and an accessory restart must send it SIGINT (docker's own
 * record of the stop: the kill and die events), so it stops cleanly within its drain instead of being killed at the
 * stop timeout; a change of the signal alone replaces the instances on the same release.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ExampleApp, makeExampleApp } from '../helpers/example.js';
import { HOSTS } from '../helpers/paths.js';
import { boxship, onHost, type RunResult, wipeHost } from '../helpers/run.js';

const host = HOSTS[0];
const ok = (r: RunResult) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
const STOP_TIMEOUT = 5;

function configure(app: ExampleApp, signal: string | undefined, accessory = ''): void {
  app.writeConfig({
    hosts: [host.address],
    appYaml: ['  env: { STOP_ON: SIGINT }', '  drain_seconds: 1', `  stop_timeout_seconds: ${STOP_TIMEOUT}`, ...(signal ? [`  stop_signal: ${signal}`] : [])],
    ...(accessory ? { extraYaml: accessory } : {}),
  });
}

const now = async () => (await onHost(host.container, 'date +%s')).trim();

interface Stop {
  /** The signals docker sent, as numbers (2 SIGINT, 15 SIGTERM, 9 SIGKILL). */
  kills: string[];
  exitCode?: string;
  /** Seconds from the first signal to the exit. */
  seconds?: number;
}

/** What docker did to each container whose name starts with `prefix` since `since`: its kill and die events. */
async function stops(since: string, prefix: string): Promise<Map<string, Stop>> {
  const text = await onHost(
    host.container,
    `docker events --since ${since} --until $(date +%s) --filter type=container --filter event=kill --filter event=die --format '{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}'`,
  );
  const out = new Map<string, Stop & { first?: number }>();
  for (const line of text.trim().split('\n').filter(Boolean)) {
    const [time, action, name, value] = line.split(' ') as [string, string, string, string];
    if (!name.startsWith(prefix)) continue;
    const s = out.get(name) ?? { kills: [] };
    const t = Number(BigInt(time) / 1_000_000n) / 1000;
    if (action === 'kill') {
      s.kills.push(value);
      s.first ??= t;
    } else {
      s.exitCode = value;
      if (s.first !== undefined) s.seconds = t - s.first;
    }
    out.set(name, s);
  }
  return new Map([...out].map(([name, { first: _, ...s }]) => [name, s]));
}

/**
 * stops() once a container of `prefix` has died: the old instance's drain may end just after the command returns, and
 * `docker events --until <now in seconds>` leaves out the events of the current second.
 */
async function leftStopped(since: string, prefix: string): Promise<Map<string, Stop>> {
  let seen = await stops(since, prefix);
  for (let i = 0; i < 40 && ![...seen.values()].some((s) => s.exitCode !== undefined); i++) {
    await new Promise((r) => setTimeout(r, 250));
    seen = await stops(since, prefix);
  }
  return seen;
}

const inspect = async (name: string, format: string) => (await onHost(host.container, `docker inspect -f '${format}' ${name}`)).trim();
/** docker inspect's template for the container's stop signal: empty when it has none (the key is then missing). */
const SIGNAL = '{{with index .Config "StopSignal"}}{{.}}{{end}}';

describe('stop_signal', () => {
  let app: ExampleApp;
  let v1: string;

  beforeAll(async () => {
    await wipeHost(host.container);
    app = makeExampleApp();
    configure(app, 'SIGINT');
    v1 = app.commit('an app that stops cleanly only on SIGINT');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
  });

  it('a rollout drains the old instance with SIGINT: it exits 0 within its drain, never killed at the timeout', async () => {
    const since = await now();
    const v2 = app.bumpVersion('2');
    ok(await boxship(['release'], { cwd: app.dir }));
    ok(await boxship(['rollout'], { cwd: app.dir }));
    expect(await inspect('hello-1', '{{index .Config.Labels "dev.boxship.tag"}}')).toBe(v2);
    const old = [...(await leftStopped(since, 'hello-1.old-')).values()];
    expect(old).toHaveLength(1);
    expect(old[0]).toMatchObject({ kills: ['2'], exitCode: '0' });
    expect(old[0]!.seconds).toBeLessThan(STOP_TIMEOUT);
    expect(await inspect('hello-1', SIGNAL)).toBe('SIGINT');
  });

  it('a change of stop_signal alone replaces the instance on the same release; the next rollout moves nothing', async () => {
    const [id, tag] = (await inspect('hello-1', '{{.Id}} {{index .Config.Labels "dev.boxship.tag"}}')).split(' ');
    configure(app, 'INT');
    // The same signal written another way is the same setting: nothing to move.
    const same = await boxship(['rollout', '--plan'], { cwd: app.dir });
    ok(same);
    expect(same.stdout).toContain('Moves: none, every instance already runs it');
    configure(app, undefined);
    const plan = await boxship(['rollout', '--plan'], { cwd: app.dir });
    ok(plan);
    expect(plan.stdout).toContain(`${host.address} slot 1: ${tag!.slice(0, 12)} -> ${tag!.slice(0, 12)} as`);
    expect(plan.stdout).toContain('(same release, started anew: its container settings changed)');
    const since = await now();
    ok(await boxship(['rollout'], { cwd: app.dir }));
    const [newId, newTag, signal] = (await inspect('hello-1', `{{.Id}} {{index .Config.Labels "dev.boxship.tag"}} ${SIGNAL}`)).split(' ');
    expect(newId).not.toBe(id);
    expect(newTag).toBe(tag);
    expect(signal ?? '').toBe('');
    // The instance that left was started with SIGINT, and stopped with it.
    expect([...(await leftStopped(since, 'hello-1.old-')).values()]).toMatchObject([{ kills: ['2'], exitCode: '0' }]);
    const again = await boxship(['rollout', '--plan'], { cwd: app.dir });
    ok(again);
    expect(again.stdout).toContain('Moves: none, every instance already runs it');
  });

  it('accessory restart sends the accessory its stop signal: it logs SIGINT and exits 0, not killed', async () => {
    const accessory = [
      'accessories:',
      '  sig:',
      `    image: hello:${v1}`,
      '    port: 3000',
      '    env: { STOP_ON: SIGINT }',
      `    stop_timeout_seconds: ${STOP_TIMEOUT}`,
      '    stop_signal: SIGINT',
    ].join('\n');
    configure(app, undefined, accessory);
    ok(await boxship(['accessory', 'up', 'sig'], { cwd: app.dir }));
    const since = await now();
    ok(await boxship(['accessory', 'restart', 'sig'], { cwd: app.dir }));
    expect(await leftStopped(since, 'hello-sig')).toEqual(new Map([['hello-sig', expect.objectContaining({ kills: ['2'], exitCode: '0' })]]));
    const logs = await onHost(host.container, 'docker logs hello-sig 2>&1');
    expect(logs).toContain('hello: SIGINT, draining');
    expect(logs).not.toContain('ignored');
    expect(await inspect('hello-sig', SIGNAL)).toBe('SIGINT');
  });
});
