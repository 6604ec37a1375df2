/**
 * What every command that talks to the hosts does first: the validated config (nothing touched if it is wrong),
 * the environment lent to the backend (cliEnv), and the backend the config chose. A command file never asks which.
 */
import { openBackend } from '../backend/index.js';
import type { Backend } from '../backend/types.js';
import type { Config } from '../config/types.js';
import { configFrom, type GlobalOptions } from './context.js';
import { type CliEnv, cliEnv } from './env.js';

export interface CliSession {
  config: Config;
  env: CliEnv;
  backend: Backend;
}

export async function withBackend<T>(
  globals: GlobalOptions,
  work: (s: CliSession) => Promise<T>,
  opts: { verbose?: boolean; interruptible?: boolean } = {},
): Promise<T> {
  const config = configFrom(globals);
  // Outside a step, progress is said on stderr too (what a command waits for before its first step).
  const env = cliEnv(globals, { verbose: opts.verbose ?? true, interruptible: opts.interruptible });
  try {
    return await work({ config, env, backend: await openBackend(config, env) });
  } finally {
    env.done();
  }
}
