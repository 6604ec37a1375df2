import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { envFileExists, oneOffRun } from '../../src/exec/commands.js';
import { toShell } from '../../src/hosts/command.js';

const dir = mkdtempSync(join(tmpdir(), 'boxship-unit-'));
writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
const config = parseConfig(
  [
    'service: hello',
    'hosts: [root@10.0.0.5]',
    'app:',
    '  port: 3000',
    '  volumes: { db: /app/db, conf: { path: /app/conf, mode: ro } }',
    '  stop_signal: QUIT',
  ].join('\n'),
  join(dir, 'boxship.yml'),
);
const state = '/root/.boxship/hello';

describe('exec: the one-off container', () => {
  it('runs the release with the env file, volumes, network and the app’s stop signal, never pulling, and no instance labels', () => {
    const c = oneOffRun(config, { host: 'h', tag: 'abc123', stateDirAbs: state, argv: ['npm', 'run', 'migrate'] });
    expect(toShell(c)).toBe(
      'docker run --rm --pull never --network boxship-hello --label dev.boxship.one-off=hello --stop-signal SIGQUIT --env-file /root/.boxship/hello/app.env ' +
        '-e BOXSHIP_SHA=abc123 -e BOXSHIP_INSTANCE=hello-exec -v /root/.boxship/hello/volumes/db:/app/db -v /root/.boxship/hello/volumes/conf:/app/conf:ro ' +
        'hello:abc123 npm run migrate',
    );
    expect(c.argv.join(' ')).not.toContain('dev.boxship.service');
    expect(c.argv).not.toContain('--network-alias');
  });

  it('adds -i and -t, and quotes the command so the remote shell runs exactly its words', () => {
    expect(
      toShell(
        oneOffRun(config, {
          host: 'h',
          tag: 'abc',
          stateDirAbs: state,
          argv: ['sh', '-c', 'echo "$HOME"; exit 3'],
          interactive: true,
          tty: true,
          instance: 'hello-hook',
        }),
      ),
    ).toBe(
      'docker run --rm --pull never -i -t --network boxship-hello --label dev.boxship.one-off=hello --stop-signal SIGQUIT --env-file /root/.boxship/hello/app.env ' +
        '-e BOXSHIP_SHA=abc -e BOXSHIP_INSTANCE=hello-hook -v /root/.boxship/hello/volumes/db:/app/db -v /root/.boxship/hello/volumes/conf:/app/conf:ro ' +
        `hello:abc sh -c 'echo "$HOME"; exit 3'`,
    );
  });

  it('gives a dirty release the git sha as BOXSHIP_SHA, as its instances get it, and runs the whole tag', () => {
    const sha = 'a'.repeat(40);
    const argv = oneOffRun(config, { host: 'h', tag: `${sha}-dirty-1234abcd`, stateDirAbs: state, argv: [] }).argv;
    expect(argv).toContain(`BOXSHIP_SHA=${sha}`);
    expect(argv.at(-1)).toBe(`hello:${sha}-dirty-1234abcd`);
  });

  it('with no command runs the image’s own, and checks the env file first', () => {
    expect(oneOffRun(config, { host: 'h', tag: 'abc', stateDirAbs: state, argv: [] }).argv.at(-1)).toBe('hello:abc');
    expect(toShell(envFileExists(state))).toBe('test -f /root/.boxship/hello/app.env');
  });
});
