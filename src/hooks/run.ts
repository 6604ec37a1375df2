/**
 * Hooks: a local command before a release (checks), and one-off containers of the new release on the first host
 * before and after a rollout (migrations). They run here with their output streamed to the given writers; the
 * exit code is returned, and the CLI decides what a failure means.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { StopSignal } from '../config/signal.js';
import type { Config } from '../config/types.js';
import { oneOffRun, envFileExists } from '../exec/commands.js';
import { streamCommand } from '../exec/stream.js';
import { type Command, script } from '../hosts/command.js';
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

/** pre_release: on this machine, in the folder of boxship.yml, with no stdin; SIGTERM after `timeoutSeconds`. */
export function runLocalHook(argv: string[], cwd: string, io: HookIo, timeoutSeconds: number): Promise<HookResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BOXSHIP_HOOK: 'pre_release' },
      timeout: timeoutSeconds * 1000,
    });
    const timer = setTimeout(() => io.stderr.write(`the hook ran longer than hooks.timeout_seconds (${timeoutSeconds}s): stopped\n`), timeoutSeconds * 1000);
    timer.unref();
    child.on('close', () => clearTimeout(timer));
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
export async function runContainerHook(
  ssh: Runner,
  config: Config,
  hook: { name: HookName; tag: string; argv: string[]; timeoutSeconds: number },
  io: HookIo,
): Promise<HookResult> {
  const { name, tag, argv } = hook;
  const stateDirAbs = `${await ssh.home()}/${stateDir(config.service)}`;
  if ((await ssh.exec(envFileExists(stateDirAbs), { allowFailure: true })).code !== 0) {
    throw new HostError(ssh.name, `cannot run the ${name} hook: the host has no app env file (${stateDirAbs}/app.env)`, { hint: 'run: boxship setup' });
  }
  const instance = `${config.service}-${name.replace('_', '-')}`;
  const container = `${instance}-${randomBytes(3).toString('hex')}`;
  const run = oneOffRun(config, { host: ssh.name, tag, stateDirAbs, argv, instance, name: container });
  const r = await streamCommand(ssh, timeLimited(run, container, hook.timeoutSeconds, config.app.stopSignal), io);
  return { code: r.code ?? 128, ...(r.signal ? { signal: r.signal } : {}) };
}

/**
 * The hook's `docker run` stopped on the host after `seconds` (exit 124, or 137 when it had to be killed 10 s
 * later), and its container removed: a hung hook must not hold the deploy lock for ever, and stopping the SSH
 * client would leave the container running. Without `timeout` on the host it runs unlimited. The signal is the
 * app's stop signal, which docker run passes on to the container (GNU and busybox timeout both take INT for SIGINT).
 */
export function timeLimited(run: Command, container: string, seconds: number, signal: StopSignal = 'SIGTERM'): Command {
  return script(
    'write',
    `${run.why} (up to ${seconds}s)`,
    [
      'n=$1 s=$2 sig=$3; shift 3',
      'command -v timeout >/dev/null 2>&1 || exec "$@"',
      'timeout -s "$sig" -k 10 "$s" "$@"; rc=$?',
      'if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then',
      '  docker rm -f "$n" >/dev/null 2>&1',
      '  echo "the hook ran longer than hooks.timeout_seconds (${s}s): stopped, its container removed" >&2',
      'fi',
      'exit "$rc"',
    ].join('\n'),
    container,
    String(seconds),
    signal.slice(3),
    ...run.argv,
  );
}
