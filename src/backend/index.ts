/**
 * The backend is chosen here, once, from the config: `backend: swarm` gives the Swarm backend, anything else the
 * per-host one. Each is loaded on first use, so a command pays only for the code of the backend it runs on.
 */
import type { Config } from '../config/types.js';
import type { Backend, BackendEnv } from './types.js';

export async function openBackend(config: Config, env: BackendEnv): Promise<Backend> {
  if (config.swarm) {
    const { swarmBackend } = await import('../swarm/backend.js');
    return swarmBackend(config, env);
  }
  const { hostsBackend } = await import('../rollout/backend.js');
  return hostsBackend(config, env);
}
