import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { toShell } from '../../src/hosts/command.js';
import { missingImage, runInstance, stopAndRemove, waitHealthy } from '../../src/rollout/instance-commands.js';
import { moveSteps } from '../../src/rollout/swap.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-unit-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  ['service: hello', 'hosts: [root@10.0.0.5]', 'app:', '  port: 3000', '  volumes: { db: /app/db }', '  drain_seconds: 2', '  stop_timeout_seconds: 10', 'healthcheck: { path: /health, interval: 1s, retries: 3 }'].join('\n'),
  join(dir, 'boxship.yml'),
);

describe('instance commands', () => {
  it('starts an instance on the service network under its colour alias, labelled, with no published port', () => {
    const c = runInstance(config, { slot: 1, tag: 'abc', colour: 'green', name: 'hello-1.next', stateDirAbs: '/root/.boxship/hello', sha: 'abc' });
    expect(c.argv).toEqual([
      'docker', 'run', '-d', '--pull', 'never', '--name', 'hello-1.next', '--network', 'boxship-hello', '--network-alias', 'hello-1-green',
      '--label', 'dev.boxship.service=hello', '--label', 'dev.boxship.tag=abc', '--label', 'dev.boxship.slot=1', '--label', 'dev.boxship.colour=green',
      '--restart', 'unless-stopped', '--stop-timeout', '10',
      '--env-file', '/root/.boxship/hello/app.env',
      '-e', 'BOXSHIP_SHA=abc', '-e', 'BOXSHIP_INSTANCE=hello-1',
      '-v', '/root/.boxship/hello/volumes/db:/app/db',
      'hello:abc',
    ]);
    expect(c.argv).not.toContain('-p');
  });

  it('names host and image when the start failed for lack of the image, and nothing else', () => {
    const e = missingImage('root@10.0.0.5', 'hello:abc', "docker: Error response from daemon: No such image: hello:abc.");
    expect(e?.message).toBe('root@10.0.0.5: image hello:abc is not on the host (boxship never pulls: docker run --pull never)');
    expect(e?.hint).toMatch(/boxship release/);
    expect(missingImage('h', 'hello:abc', 'Conflict. The container name "/hello-1" is already in use')).toBeUndefined();
  });

  it('checks health through the proxy container, polling faster than the interval within retries x interval', () => {
    const c = waitHealthy(config, 'hello-1.next', 'hello-1-green');
    expect(c.argv.slice(4)).toEqual(['hello-1.next', 'hello-proxy', 'http://hello-1-green:3000/health', '12', '0.25', '2', '3']);
    expect(c.why).toBe('wait until hello-1.next passes /health (up to 3s)');
  });

  it('stops with drain + stop timeout', () => {
    expect(toShell(stopAndRemove('hello-1', 12))).toBe(`sh -c 'docker stop -t "$2" "$1" >/dev/null 2>&1; docker rm -f "$1" >/dev/null 2>&1; true' sh hello-1 12`);
  });
});

describe('moveSteps', () => {
  it('replaces a live instance: start next to it, then stop it and take over its name', () => {
    const s = moveSteps(config, { host: 'h', slot: 2, from: 'old', fromColour: 'blue', to: 'new', colour: 'green' }, '/s');
    expect(s.prepare.map((c) => c.argv.at(-1))).toEqual(['hello-2.next']);
    expect(s.start?.argv.slice(0, 7)).toEqual(['docker', 'run', '-d', '--pull', 'never', '--name', 'hello-2.next']);
    expect(s.retire.map((c) => c.why)).toEqual(['stop hello-2 (letting in-flight requests finish) and remove it', 'rename hello-2.next to hello-2']);
    expect(s.retire[0]!.argv.at(-1)).toBe('12');
    expect(s.discard?.argv.at(-1)).toBe('hello-2.next');
  });

  it('removes only the leftovers the host has when it knows them', () => {
    const move = { host: 'h', slot: 1, from: null, fromColour: null, to: 'new', colour: 'blue' as const };
    expect(moveSteps(config, move, '/s', new Set(['hello-2'])).prepare).toEqual([]);
    expect(moveSteps(config, move, '/s', new Set(['hello-1'])).prepare.map((c) => c.argv.at(-1))).toEqual(['hello-1']);
    expect(moveSteps(config, move, '/s').prepare.map((c) => c.argv.at(-1))).toEqual(['hello-1.next', 'hello-1']);
  });

  it('fills an empty slot directly under the live name', () => {
    const s = moveSteps(config, { host: 'h', slot: 1, from: null, fromColour: null, to: 'new', colour: 'blue' }, '/s');
    expect(s.start?.argv[6]).toBe('hello-1');
    expect(s.retire).toEqual([]);
  });

  it('empties a slot when moving back to nothing', () => {
    const s = moveSteps(config, { host: 'h', slot: 3, from: 'new', fromColour: 'blue', to: '', colour: 'green' }, '/s');
    expect(s.start).toBeUndefined();
    expect(s.retire.map((c) => c.argv.at(-2))).toEqual(['hello-3']);
  });
});
