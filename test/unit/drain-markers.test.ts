/**
 * Drains that outlive the command: startDrain leaves a marker with its deadline, listInstances reports the seconds it
 * has left, and converge.ts leaves such a drain alone (a cut-off one it drains again). The scripts run here in sh,
 * against a docker stand-in, as they run on a host.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import type { Command } from '../../src/hosts/command.js';
import { convergeSteps, drainsInProgress } from '../../src/rollout/converge.js';
import { drainMarkers, type InstanceInfo, listInstances, parseInstances, startDrain } from '../../src/rollout/instance-commands.js';
import { shims } from '../helpers/shims.js';

const INSPECT = (name: string, running: boolean) =>
  JSON.stringify({ name: `/${name}`, labels: { 'dev.boxship.slot': '1', 'dev.boxship.colour': 'blue', 'dev.boxship.tag': 'hello:aaa' }, running });

function runHere(cmd: Command, cwd: string, env: NodeJS.ProcessEnv): string {
  return execFileSync(cmd.argv[0]!, cmd.argv.slice(1), { cwd, env, encoding: 'utf8' });
}

describe('drains left going on the hosts', () => {
  it('a drain marks its container with a deadline while it runs, and clears it once the container is gone', async () => {
    const s = shims('boxship-drain-', {
      // `docker stop` takes a moment (the app draining); every docker call is logged.
      docker: 'echo "$@" >> "$DIR/calls"; [ "$1" = stop ] && sleep 0.4; exit 0',
    });
    const before = Math.floor(Date.now() / 1000);
    runHere(startDrain('hello-1.old-blue', 12, drainMarkers('hello')), s.dir, s.env);
    const marker = join(s.dir, '.boxship/hello/draining/hello-1.old-blue');
    // Written before the command returns: the listing right after it sees the drain.
    const deadline = Number(readFileSync(marker, 'utf8').trim());
    expect(deadline).toBeGreaterThanOrEqual(before + 12);
    expect(deadline).toBeLessThanOrEqual(before + 14);
    for (let i = 0; i < 50 && existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(marker), 'the marker outlives the drain').toBe(false);
    expect(s.read('calls')).toBe('stop -t 12 hello-1.old-blue\nrm -f hello-1.old-blue\n');
  });

  it("the listing gives each marked instance the seconds its drain has left by the host's clock, and skips a marker that holds no number", () => {
    const s = shims('boxship-list-', {
      docker: `[ "$1" = ps ] && { echo c1; echo c2; exit 0; }; [ "$1" = inspect ] && { echo '${INSPECT('hello-1', true)}'; echo '${INSPECT('hello-1.old-green', true)}'; }; exit 0`,
    });
    const dir = join(s.dir, drainMarkers('hello'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hello-1.old-green'), `${Math.floor(Date.now() / 1000) + 30}\n`);
    writeFileSync(join(dir, 'hello-2.old-blue'), 'half a wri');
    const list = parseInstances(runHere(listInstances('hello'), s.dir, s.env));
    expect(list.map((i) => i.name)).toEqual(['hello-1', 'hello-1.old-green']);
    expect(list[0]!.drainingFor).toBeUndefined();
    expect(list[1]!.drainingFor).toBeGreaterThanOrEqual(28);
    expect(list[1]!.drainingFor).toBeLessThanOrEqual(30);
  });

  it('a container removed between ps and inspect (a drain ending) makes the listing read both again, not fail', () => {
    // The first inspect fails as docker does for a name that is gone; the second ps no longer lists it.
    const s = shims('boxship-list-race-', {
      docker: `echo "$1" >> "$DIR/calls"; [ "$1" = ps ] && { echo c1; [ -f "$DIR/once" ] || echo c2; exit 0; }; if [ "$1" = inspect ]; then [ -f "$DIR/once" ] || { touch "$DIR/once"; echo "Error: No such object: c2" >&2; exit 1; }; echo '${INSPECT('hello-1', true)}'; fi; exit 0`,
    });
    const list = parseInstances(runHere(listInstances('hello'), s.dir, s.env));
    expect(list.map((i) => i.name)).toEqual(['hello-1']);
    expect(s.read('calls')).toBe('ps\ninspect\nps\ninspect\n');
  });

  it('a docker inspect that keeps failing fails the listing with its own message', () => {
    const s = shims('boxship-list-stuck-', {
      docker: '[ "$1" = ps ] && { echo c1; exit 0; }; echo "Error: inspect is broken here" >&2; exit 1',
    });
    let err = '';
    try {
      runHere(listInstances('hello'), s.dir, s.env);
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
    }
    expect(err).toMatch(/inspect is broken here/);
  });

  it('the listing fails when docker does, rather than reporting no instances', () => {
    const s = shims('boxship-list-fail-', { docker: 'echo "Cannot connect to the Docker daemon" >&2; exit 1' });
    expect(() => runHere(listInstances('hello'), s.dir, s.env)).toThrow(/Command failed/);
  });

  const config = { service: 'hello', app: { drainSeconds: 10, stopTimeoutSeconds: 2 } } as unknown as Config;
  const live: InstanceInfo = { name: 'hello-1', tag: 'hello:bbb', accessoryHosts: '', slot: 1, colour: 'green', running: true };
  const old = (drainingFor?: number): InstanceInfo => ({
    name: 'hello-1.old-blue',
    tag: 'hello:aaa',
    accessoryHosts: '',
    slot: 1,
    colour: 'blue',
    running: true,
    ...(drainingFor !== undefined ? { drainingFor } : {}),
  });

  it('converge leaves a marked drain alone and lists it for the run; a drain whose marker is long overdue (or absent) it drains again', () => {
    expect(convergeSteps(config, [live, old(8)])).toEqual([]);
    expect(drainsInProgress([live, old(8)])).toEqual(['hello-1.old-blue']);
    // Just past its deadline: docker stop is killing it right now.
    expect(convergeSteps(config, [live, old(-3)])).toEqual([]);
    for (const cut of [old(-60), old()]) {
      const steps = convergeSteps(config, [live, cut]);
      expect(steps.map((x) => x.note)).toEqual(['hello-1.old-blue: an old instance left by an interrupted run; draining it']);
      expect(steps[0]!.command.argv.slice(-3)).toEqual(['hello-1.old-blue', '12', '.boxship/hello/draining']);
      expect(drainsInProgress([live, cut])).toEqual([]);
    }
  });
});
