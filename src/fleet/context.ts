/** What a rollout-type command carries through its steps: config, open hosts, who is acting, and the reporter. */
import type { Config } from '../config/types.js';
import type { SettingsState } from '../proxy/settings.js';
import type { Runner } from '../hosts/runner.js';
import { stateDir } from '../state/paths.js';
import type { Report } from '../util/events.js';

export interface DeployContext {
  config: Config;
  /** Hosts in config order, all connected. */
  hosts: Runner[];
  who: string;
  /** The command line being run, for the lock and the audit log. */
  command: string;
  report: Report;
  /** Per host, the proxy settings it serves with (a settings change in progress decides each move's port and check). */
  proxySettings?: Map<string, SettingsState>;
  /** Set by the CLI on SIGINT/SIGTERM: the move in flight finishes (or is put back), then the run stops. */
  interrupt?: { requested: boolean };
  /**
   * Whether this command holds the deploy lock already (shared by the copies of a context, hence an object): the
   * lock is re-entrant, so the hooks and the rollout between them run under one lock, taken once.
   */
  lock?: {
    held: boolean;
    /** Set once another command has taken the lock over from this one (it stalled past the stale window). */
    lost?: Error;
    /** While held: throws `lost` if the lock on that host is no longer ours (checked before each change). */
    verify?: (host: string) => Promise<void>;
  };
}

export function hostByName(ctx: DeployContext, name: string): Runner {
  const h = ctx.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no connection to ${name}`);
  return h;
}

export function relState(ctx: DeployContext): string {
  return stateDir(ctx.config.service);
}

export async function absState(ctx: DeployContext, ssh: Runner): Promise<string> {
  return `${await ssh.home()}/${relState(ctx)}`;
}
