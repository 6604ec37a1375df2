/**
 * The roles beside web in a rollout (`roles:` in boxship.yml): what each host runs of them, which containers move to
 * the target release, and each move, one container at a time: the new one starts beside the old, passes its health
 * check, takes the slot's name, and only then is the old one stopped. No proxy is involved: a role serves no HTTP.
 * run.ts moves the roles before web and puts every moved one back when anything in the run fails.
 */
import type { Config, RoleConfig } from '../config/types.js';
import { sequence } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { BoxshipError, errorMessage } from '../util/errors.js';
import { shortSha } from '../util/short.js';
import { absState, type DeployContext, hostByName } from '../fleet/context.js';
import { names } from '../fleet/names.js';
import { HEALTH_EXIT, handOver, missingImage, removeNow } from './instance-commands.js';
import {
  describeRoleHealth,
  parseRoleContainers,
  listRoleContainers,
  type RoleContainer,
  roleHealthBudget,
  roleSpec,
  runRole,
  stopRole,
  waitRoleHealthy,
} from './role-commands.js';

/** One container of a role moving to a release (`to` '': the slot is emptied, as when a scale-up is undone). */
export interface RoleMove {
  host: string;
  role: string;
  slot: number;
  /** The release its running container has, or null when the slot has none running. */
  from: string | null;
  to: string;
}

export interface RoleHost {
  host: string;
  containers: RoleContainer[];
}

/** What each connected host runs of the roles; nothing is asked when boxship.yml has none. */
export async function readRoles(ctx: DeployContext): Promise<RoleHost[]> {
  if (!ctx.config.roles) return [];
  return Promise.all(
    ctx.hosts.map(async (ssh) => ({ host: ssh.name, containers: parseRoleContainers(await ssh.run(listRoleContainers(ctx.config.service))) })),
  );
}

function rolesOn(config: Config, host: string): RoleConfig[] {
  return (config.roles ?? []).filter((r) => r.hosts.includes(host));
}

/**
 * Every role container not on `target` (or started with other settings: its spec label differs), host after host,
 * role after role, slot by slot; and the containers boxship.yml no longer asks for on a host (a role gone, fewer
 * instances), removed once the rollout is complete. With `canary`, each role moves only enough containers to have
 * `canary` of them on `target` across the fleet (as web's instances do), so a canary runs every role's new code.
 */
export function planRoles(
  config: Config,
  fleet: RoleHost[],
  target: string,
  opts: { canary?: number } = {},
): { moves: RoleMove[]; extra: { host: string; name: string }[] } {
  const moves: RoleMove[] = [];
  const extra: { host: string; name: string }[] = [];
  const onTarget = new Map<string, number>();
  for (const { host, containers } of fleet) {
    const wanted = new Set<string>();
    for (const role of rolesOn(config, host)) {
      const spec = roleSpec(config, role, host);
      for (let slot = 1; slot <= role.instances; slot++) {
        const name = names.role(config.service, role.name, slot);
        wanted.add(name);
        const live = containers.find((c) => c.name === name && c.running);
        if (live && live.tag === target && live.spec === spec) {
          onTarget.set(role.name, (onTarget.get(role.name) ?? 0) + 1);
          continue;
        }
        moves.push({ host, role: role.name, slot, from: live?.tag ?? null, to: target });
      }
    }
    // Leftovers of a cut-off move (.next, .old) are cleared by the next move of their slot, not here.
    for (const c of containers) if (!wanted.has(c.name) && !/\.(next|old)$/.test(c.name)) extra.push({ host, name: c.name });
  }
  if (opts.canary === undefined) return { moves, extra };
  const canary = opts.canary;
  const left = new Map<string, number>();
  const limited = moves.filter((m) => {
    const n = left.get(m.role) ?? Math.max(0, canary - (onTarget.get(m.role) ?? 0));
    left.set(m.role, n - 1);
    return n > 0;
  });
  return { moves: limited, extra };
}

/** Undo of moves that were carried out, newest first, each back to the release it replaced. */
export function planRoleRevert(done: RoleMove[]): RoleMove[] {
  return [...done].reverse().map((m) => ({ ...m, from: m.to, to: m.from ?? '' }));
}

class RoleHealthFailed extends BoxshipError {
  constructor(move: RoleMove, container: string, role: RoleConfig, seconds: number, detail: string) {
    const [why = '', ...rest] = detail.trim().split('\n');
    const head = `${move.host}: ${container} (role ${role.name}) on ${shortSha(move.to)} failed its health check (${describeRoleHealth(role)}, up to ${seconds}s): ${why.trim() || 'no answer'}`;
    super(rest.length ? `${head}\n${rest.join('\n')}` : head, {
      hint: `the lines above are the role's own output; fix the release or roles.${role.name} in boxship.yml (cmd, env, healthcheck)`,
    });
  }
}

async function applyRoleMove(ctx: DeployContext, ssh: Runner, move: RoleMove): Promise<void> {
  const { config, report } = ctx;
  const role = (config.roles ?? []).find((r) => r.name === move.role);
  if (!role) throw new Error(`role ${move.role} is not in boxship.yml`);
  const live = names.role(config.service, role.name, move.slot);
  const seconds = config.app.stopTimeoutSeconds;
  if (move.to === '') {
    report({ kind: 'step', host: ssh.name, message: `${live}: removing it` });
    await ssh.run(stopRole(live, seconds));
    return;
  }
  const empty = move.from === null;
  const [next, old] = [`${live}.next`, `${live}.old`];
  const name = empty ? live : next;
  // Leftovers of a cut-off run would block the names; an empty slot's live name may be held by a stopped container.
  const prepare = [next, old, ...(empty ? [live] : [])].map(removeNow);
  const start = runRole(config, role, {
    host: ssh.name,
    slot: move.slot,
    tag: move.to,
    name,
    stateDirAbs: await absState(ctx, ssh),
    restart: empty ? 'unless-stopped' : 'no',
  });
  report({ kind: 'step', host: ssh.name, message: `${live}: starting ${shortSha(move.to)}, waiting until it is healthy (${describeRoleHealth(role)})` });
  await ssh.run(sequence(start.why, [...prepare, start])).catch((err: unknown) => {
    throw missingImage(ssh.name, names.image(config.service, move.to), errorMessage(err)) ?? err;
  });
  const r = await ssh.exec(waitRoleHealthy(config, role, name), { allowFailure: true });
  if (r.code !== 0) {
    await ssh.run(removeNow(name)).catch(() => {});
    const known = r.code === HEALTH_EXIT.exited || r.code === HEALTH_EXIT.timedOut;
    const ended = r.code !== null ? `the check ended with exit ${r.code}` : `the check ended with ${r.signal ? `signal ${r.signal}` : 'no answer'}`;
    throw new RoleHealthFailed(move, live, role, roleHealthBudget(config, role).budgetMs / 1000, known ? r.stderr : `${ended}\n${r.stderr}${r.stdout}`);
  }
  if (!empty) {
    // The old container leaves only once the new one is healthy and holds the slot's name (and restart policy).
    await ssh.run(handOver(live, next, old));
    report({ kind: 'step', host: ssh.name, message: `${live}: ${shortSha(move.from ?? '')} stops (up to ${seconds}s)` });
    await ssh.run(stopRole(old, seconds));
  }
  report({ kind: 'step', host: ssh.name, message: `${live}: running ${shortSha(move.to)}` });
}

/** Applies role moves one at a time; the first failure (or an interrupt) stops after the move it is in. */
export async function applyRoleMoves(ctx: DeployContext, moves: RoleMove[]): Promise<{ done: RoleMove[]; error?: Error; interrupted: boolean }> {
  const done: RoleMove[] = [];
  for (const move of moves) {
    if (ctx.interrupt?.requested) return { done, interrupted: true };
    try {
      await ctx.lock?.verify?.(move.host);
      await applyRoleMove(ctx, hostByName(ctx, move.host), move);
      done.push(move);
    } catch (err) {
      return { done, error: err instanceof Error ? err : new Error(errorMessage(err)), interrupted: false };
    }
  }
  return { done, interrupted: false };
}

/** After a complete rollout: the role containers boxship.yml no longer asks for. */
export async function removeExtraRoles(ctx: DeployContext, extra: { host: string; name: string }[]): Promise<void> {
  for (const x of extra) await hostByName(ctx, x.host).run(stopRole(x.name, ctx.config.app.stopTimeoutSeconds));
}
