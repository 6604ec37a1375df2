/** What every command needs first: the validated config (nothing touched if it is wrong) and a Docker client. */
import { resolve } from 'node:path';
import type Docker from 'dockerode';
import { loadConfig } from '../config/load.js';
import { readSecretsFile } from '../config/secrets.js';
import type { Config } from '../config/types.js';

export interface GlobalOptions {
  config: string;
  acceptNewHostKeys?: boolean;
}

export function configFrom(opts: GlobalOptions): Config {
  const config = loadConfig(resolve(opts.config));
  // Read the secrets now, before any host is touched, so that they are masked in all output of every command (a
  // host's stderr or an app's logs can carry them even in commands that never write the env file).
  if (config.app.secretsFile) readSecretsFile(config.app.secretsFile);
  for (const a of config.accessories ?? []) if (a.secretsFile) readSecretsFile(a.secretsFile);
  return config;
}

/** Loaded on first use: commands that never touch the local engine start faster without it. */
export async function localDocker(): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  return new Dockerode();
}

/** listr2 draws live bars on a terminal and plain lines elsewhere (CI logs). */
export const interactive = Boolean(process.stdout.isTTY) && !process.env.CI;

/** Options every listr2 list in boxship uses: nested task lines stay visible, and errors are shown in full. */
export const listrOptions = {
  renderer: 'default',
  fallbackRenderer: 'simple',
  fallbackRendererCondition: !interactive,
  rendererOptions: { collapseSubtasks: false, collapseErrors: false },
  exitOnError: true,
  // listr2 would exit(127) on Ctrl-C; boxship handles it (cli/interrupt.ts) so that the move in flight finishes.
  registerSignalListeners: false,
} as const;
