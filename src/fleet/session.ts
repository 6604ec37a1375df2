/**
 * A command that changes what serves opens its hosts here: every one of them reachable or nothing starts (a change
 * must not begin on a fleet it cannot finish), and the context it carries through its steps, lock included.
 */
import type { BackendEnv } from '../backend/types.js';
import type { Config, HostConfig } from '../config/types.js';
import { openFleet } from '../hosts/fleet.js';
import { whoAmI } from '../state/ledger.js';
import type { DeployContext } from './context.js';

interface HostSession {
  ctx: DeployContext;
  close(): void;
}

/** Connects to `hosts` (default: every host), all or none. */
async function openHostSession(config: Config, env: BackendEnv, hosts: HostConfig[] = config.hosts): Promise<HostSession> {
  const fleet = await openFleet(hosts, { acceptNewHostKeys: env.acceptNewHostKeys, requireAll: true });
  const ctx: DeployContext = {
    config,
    hosts: fleet.hosts,
    who: whoAmI(),
    command: env.commandLine,
    report: env.report,
    interrupt: env.interrupt,
    lock: { held: false },
  };
  return { ctx, close: fleet.close };
}

/** Opens the session, runs `work`, and always closes the connections. */
export async function withHostSession<T>(config: Config, env: BackendEnv, work: (ctx: DeployContext) => Promise<T>, hosts?: HostConfig[]): Promise<T> {
  const session = await openHostSession(config, env, hosts);
  try {
    return await work(session.ctx);
  } finally {
    session.close();
  }
}
