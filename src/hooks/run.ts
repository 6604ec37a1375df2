/**
 * Hooks: a local command before a release (checks), and one-off containers of the new release on the first host
 * before and after a rollout (migrations). They run here with their output streamed to the given writers; the
 * exit code is returned, and the CLI decides what a failure means.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { Config } from '../config/types.js';
import { oneOffRun, envFileExists } from '../exec/commands.js';
import { streamCommand } from '../exec/stream.js';
import type { Runner } from '../hosts/runner.js';
import { stateDir } from '../state/paths.js';
import { HostError } from '../util/errors.js';

export type HookName = 'pre_release' | 'pre_rollout' | 'post_rollout';

export interface HookIo {
  stdout: Writable;
  stderr: Writable;
}

export interface HookResult {
  code: number;
  signal?: string;
}

/** pre_release: on this machine, in the folder of boxship.yml, with no stdin. */
export function runLocalHook(argv: string[], cwd: string, io: HookIo): Promise<HookResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BOXSHIP_HOOK: 'pre_release' } });
    child.stdout.on('data', (c: Buffer) => io.stdout.write(c));
    child.stderr.on('data', (c: Buffer) => io.stderr.write(c));
    child.on('error', (err) => {
      io.stderr.write(`${argv[0]}: ${err.message}\n`);
      resolve({ code: 127 });
    });
    child.on('close', (code, signal) => resolve({ code: code ?? 128, ...(signal ? { signal } : {}) }));
  });
}

/** pre_rollout / post_rollout: a one-off container of `tag` on `ssh`, as `boxship exec` runs it. */
export async function runContainerHook(ssh: Runner, config: Config, name: HookName, tag: string, argv: string[], io: HookIo): Promise<HookResult> {
  const stateDirAbs = `${await ssh.home()}/${stateDir(config.service)}`;
  if ((await ssh.exec(envFileExists(stateDirAbs), { allowFailure: true })).code !== 0) {
    throw new HostError(ssh.name, `cannot run the ${name} hook: the host has no app env file (${stateDirAbs}/app.env)`, { hint: 'run: boxship setup' });
  }
  const r = await streamCommand(ssh, oneOffRun(config, { tag, stateDirAbs, argv, instance: `${config.service}-${name.replace('_', '-')}` }), io);
  return { code: r.code ?? 128, ...(r.signal ? { signal: r.signal } : {}) };
}
