/**
 * app.stop_signal and accessories.<name>.stop_signal: how boxship.yml takes them, that without them no container gets
 * a flag (the exact argv with one: the instance, exec, accessory and swarm command tests), and that a change of the
 * signal alone makes a rollout replace instances on the same release.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { oneOffRun } from '../../src/exec/commands.js';
import { instanceSpec, parseInstances, runInstance } from '../../src/rollout/instance-commands.js';
import { planRollout } from '../../src/rollout/plan.js';
import { createService, parseServiceSpec, type ServiceSpec, updateService } from '../../src/swarm/service-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-stop-signal-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const file = join(dir, 'boxship.yml');
const load = (...lines: string[]): Config => parseConfig(['service: hello', 'hosts: [root@10.0.0.5]', ...lines].join('\n'), file);
const problem = (...lines: string[]): string => {
  try {
    load(...lines);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a config error');
};

describe('stop_signal in boxship.yml', () => {
  it('takes a signal with or without SIG and holds it with SIG; absent is the image’s own (no setting)', () => {
    expect(load('app: { stop_signal: SIGINT }').app.stopSignal).toBe('SIGINT');
    expect(load('app: { stop_signal: QUIT }').app.stopSignal).toBe('SIGQUIT');
    expect(load('app: { port: 3000 }').app.stopSignal).toBeUndefined();
    const c = load('accessories:', '  db: { image: redis:7, stop_signal: WINCH }', '  cache: { image: redis:7 }');
    expect(c.accessories?.map((a) => [a.name, a.stopSignal])).toEqual([
      ['db', 'SIGWINCH'],
      ['cache', undefined],
    ]);
  });

  it('refuses an unknown signal (and SIGKILL, which no app can catch) at its line, listing the ones it takes', () => {
    const list = 'SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH (with or without SIG)';
    expect(problem('app:', '  stop_signal: SIGFOO')).toContain(`boxship.yml:4:16: app.stop_signal: expected a stop signal: ${list}, got "SIGFOO"`);
    expect(problem('app:', '  stop_signal: KILL')).toContain('boxship.yml:4:16: app.stop_signal: expected a stop signal');
    expect(problem('accessories:', '  db:', '    image: redis:7', '    stop_signal: 9')).toContain(
      `boxship.yml:6:18: accessories.db.stop_signal: expected a stop signal: ${list}, got 9`,
    );
  });
});

describe('the signal set where each container is created', () => {
  // The exact argv with a signal: instance-commands, exec, accessories and swarm tests. Here: without one, no flag.
  it('without stop_signal: no --stop-signal and no spec label anywhere, as before (those containers are up to date)', () => {
    const plain = load('app: { port: 3000 }');
    expect(instanceSpec(plain)).toBeUndefined();
    const run = runInstance(plain, { host: 'h', slot: 1, tag: 'abc', colour: 'blue', name: 'hello-1', stateDirAbs: '/r', sha: 'abc', restart: 'no' }).argv;
    expect(run).not.toContain('--stop-signal');
    expect(run.some((a) => a.startsWith('dev.boxship.spec='))).toBe(false);
    expect(oneOffRun(plain, { host: 'h', tag: 'abc', stateDirAbs: '/r', argv: [] }).argv).not.toContain('--stop-signal');
    expect(instanceSpec(load('app: { stop_signal: QUIT }'))).not.toBe(instanceSpec(load('app: { stop_signal: INT }')));
  });

  const service: ServiceSpec = {
    name: 'hello',
    service: 'hello',
    image: 'hello:abc',
    tag: 'abc',
    replicas: 1,
    constraints: [],
    health: [],
    monitorSeconds: 5,
    stopGraceSeconds: 12,
    mounts: [],
  };
  const flagOf = (argv: string[]) => argv.flatMap((a, i) => (argv[i - 1] === '--stop-signal' ? [a] : []));

  it('Swarm: an update clears a signal boxship.yml no longer has (back to the image’s), and says nothing when neither has one', () => {
    const current = { image: 'hello:old', envKeys: [], constraints: [], mountTargets: [] };
    expect(createService(service, '/e').argv).not.toContain('--stop-signal');
    expect(flagOf(updateService(service, { ...current, stopSignal: 'SIGINT' }, '/e', []).argv)).toEqual(['']);
    expect(updateService(service, current, '/e', []).argv).not.toContain('--stop-signal');
    const inspected = parseServiceSpec(JSON.stringify([{ Spec: { TaskTemplate: { ContainerSpec: { Image: 'hello:old', StopSignal: 'SIGINT' } } } }]));
    expect(inspected?.stopSignal).toBe('SIGINT');
  });
});

describe('a changed stop signal replaces instances', () => {
  const slots = (spec?: string) => [{ host: 'h1', slots: [{ slot: 1, tag: 'abc', colour: 'blue' as const, ...(spec ? { spec } : {}) }] }];

  it('an instance on the target release started with another spec moves, on the same release, to the other colour', () => {
    const spec = instanceSpec(load('app: { stop_signal: SIGINT }'));
    expect(planRollout(slots(), 'abc', { spec })).toEqual([{ host: 'h1', slot: 1, from: 'abc', fromColour: 'blue', to: 'abc', colour: 'green' }]);
    expect(planRollout(slots(spec), 'abc', { spec })).toEqual([]);
    // The signal taken out again: back to the default, which an unlabelled instance has.
    expect(planRollout(slots(spec), 'abc', {})).toHaveLength(1);
    expect(planRollout(slots(), 'abc', {})).toEqual([]);
    expect(planRollout(slots('other'), 'abc', { spec, canary: 1 })).toHaveLength(1);
  });

  it('reads the spec label of each instance from docker inspect', () => {
    const line = (labels: Record<string, string>) => JSON.stringify({ name: '/hello-1', labels, running: true });
    const base = { 'dev.boxship.tag': 'abc', 'dev.boxship.slot': '1', 'dev.boxship.colour': 'blue' };
    const [labelled, plain] = parseInstances(`${line({ ...base, 'dev.boxship.spec': 'f00' })}\n${line(base)}\n`);
    expect(labelled?.spec).toBe('f00');
    expect(plain).not.toHaveProperty('spec');
  });
});
