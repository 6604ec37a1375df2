/**
 * Runs a change under the per-service lock on every host, and writes the outcome to each host's audit log.
 * If any host's lock is held by a live command, the locks already taken are given back and nothing else happens.
 * A lock left by an interrupted run (holder gone, or silent) is taken over, with a warning naming that run: the
 * change that follows converges what it left (see converge.ts). A holder that is itself taken over (it stalled past
 * the stale window) learns it from its heartbeat or its check before a change, and stops with an error naming the
 * new holder; it never removes the new holder's lock.
 */
import type { Runner } from '../hosts/runner.js';
import { appendAudit } from '../state/audit.js';
import {
  HEARTBEAT_SECONDS,
  LOCK_HELD_EXIT,
  LOCK_LOST_EXIT,
  type LockInfo,
  acquireLock,
  breakStaleLock,
  heartbeat,
  lockInfoHere,
  parseHeldLock,
  parseLockInfo,
  releaseLock,
  staleReason,
} from '../state/lock.js';
import { BoxshipError, errorMessage } from '../util/errors.js';
import { relState, type DeployContext } from './context.js';

export class LockHeldError extends BoxshipError {}

/** How an action ended, for the audit log: a short outcome, and for a failure the error that says why. */
export type AuditOutcome = string | { outcome: string; detail?: string };

/** Enough for an error with a host's last output lines; errorMessage has redacted it before it is cut. */
const DETAIL_MAX = 2000;

const holderOf = (info: LockInfo | undefined) => (info ? `${info.who} running "${info.command}" since ${info.time}` : 'another boxship command');

async function takeLock(ctx: DeployContext, ssh: Runner, info: LockInfo): Promise<void> {
  const dir = relState(ctx);
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await ssh.exec(acquireLock(dir, info), { allowFailure: true });
    if (r.code === 0) return;
    if (r.code !== LOCK_HELD_EXIT) throw new BoxshipError(`${ssh.name}: cannot take the lock: ${r.stderr.trim() || `exit ${r.code}`}`);
    const held = parseHeldLock(r.stdout);
    const holder = holderOf(held.info);
    const stale = attempt === 0 ? staleReason(held) : undefined;
    if (!stale) {
      throw new LockHeldError(`${ssh.name}: ${ctx.config.service} is locked by ${holder}`, {
        hint: 'wait for it to finish; if it died, the next command takes the lock over by itself within a minute (or run: boxship lock release)',
      });
    }
    ctx.report({ kind: 'warning', host: ssh.name, message: `an interrupted run held the lock (${holder}; ${stale}): taking it over and cleaning up after it` });
    await ssh.exec(breakStaleLock(dir, held.infoText), { allowFailure: true });
  }
}

/**
 * Runs `action` under the lock on every host of `ctx`. Re-entrant: inside an action that holds it already (the
 * hooks around a rollout, then the rollout), it runs the inner action as it is and leaves the audit to the outer one.
 */
export async function withLock<T>(ctx: DeployContext, action: () => Promise<T>, outcomeOf: (r: T) => AuditOutcome): Promise<T> {
  if (ctx.lock?.held) return action();
  const dir = relState(ctx);
  const info = lockInfoHere(ctx.who, ctx.command);
  const mine = JSON.stringify(info);
  const taken: Runner[] = [];
  try {
    for (const ssh of ctx.hosts) {
      await takeLock(ctx, ssh, info);
      taken.push(ssh);
    }
  } catch (err) {
    for (const t of taken) await t.run(releaseLock(dir, mine)).catch(() => {});
    throw err;
  }
  const lock = ctx.lock;
  const lostOn = new Set<string>();
  /** Refreshes the lock on a host; false (and `lock.lost` set, naming the new holder) once it is not ours. */
  const refresh = async (ssh: Runner): Promise<boolean> => {
    if (lostOn.has(ssh.name)) return false;
    const r = await ssh.exec(heartbeat(dir, mine), { allowFailure: true });
    if (r.code !== LOCK_LOST_EXIT) return true;
    lostOn.add(ssh.name);
    const now = parseLockInfo(r.stdout.trim());
    const err = new BoxshipError(`${ssh.name}: lost the deploy lock: ${holderOf(now)} took it over while this run was stalled; stopped before changing more`, {
      hint: 'this run was silent for longer than the stale window (asleep or suspended); check what the other command is doing before running again',
    });
    if (lock) lock.lost ??= err;
    ctx.report({ kind: 'warning', host: ssh.name, message: err.message });
    return false;
  };
  // The heartbeat tells a later command that this one is alive, however long its drains take.
  const beat = setInterval(() => {
    for (const ssh of taken) void refresh(ssh).catch(() => {});
  }, HEARTBEAT_SECONDS * 1000);
  beat.unref();
  let outcome = 'error';
  let detail: string | undefined;
  if (lock) {
    lock.held = true;
    lock.lost = undefined;
    lock.verify = async (host) => {
      const ssh = taken.find((t) => t.name === host);
      if (lock.lost || (ssh && !(await refresh(ssh)))) throw lock.lost;
    };
  }
  try {
    const result = await action();
    if (lock?.lost) throw lock.lost;
    const o = outcomeOf(result);
    if (typeof o === 'string') outcome = o;
    else ({ outcome, detail } = o);
    return result;
  } catch (err) {
    detail = errorMessage(err);
    throw err;
  } finally {
    if (lock) {
      lock.held = false;
      lock.verify = undefined;
    }
    clearInterval(beat);
    await Promise.all(
      taken.map(async (ssh) => {
        await ssh
          .run(
            appendAudit(dir, {
              time: new Date().toISOString(),
              who: ctx.who,
              command: ctx.command,
              host: ssh.name,
              outcome,
              detail: detail?.slice(0, DETAIL_MAX),
            }),
          )
          .catch(() => {});
        if (!lostOn.has(ssh.name)) await ssh.run(releaseLock(dir, mine)).catch(() => {});
      }),
    );
  }
}
