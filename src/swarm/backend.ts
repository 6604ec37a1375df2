/** The Swarm backend (stub until it is filled in from src/cli/swarm.ts). */
import type { Backend, BackendEnv } from '../backend/types.js';
import type { Config } from '../config/types.js';

export function swarmBackend(config: Config, env: BackendEnv): Backend {
  throw new Error(`not yet: ${config.service} ${env.commandLine}`);
}
