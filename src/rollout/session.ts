/**
 * Runs a change under the per-service lock on every host, and writes the outcome to each host's audit log.
 * If any host's lock is held, the locks already taken are given back and nothing else happens.
 */
import { appendAudit } from '../state/audit.js';
import { LOCK_HELD_EXIT, acquireLock, parseLockInfo, releaseLock } from '../state/lock.js';
import { BoxshipError, errorMessage } from '../util/errors.js';
import { relState, type DeployContext } from './context.js';

export class LockHeldError extends BoxshipError {}

/** How an action ended, for the audit log: a short outcome, and for a failure the error that says why. */
export type AuditOutcome = string | { outcome: string; detail?: string };

/** Enough for an error with a host's last output lines; errorMessage has redacted it before it is cut. */
const DETAIL_MAX = 2000;

export async function withLock<T>(ctx: DeployContext, action: () => Promise<T>, outcomeOf: (r: T) => AuditOutcome): Promise<T> {
  const dir = relState(ctx);
  const info = { who: ctx.who, command: ctx.command, time: new Date().toISOString() };
  const taken = [];
  for (const ssh of ctx.hosts) {
    const r = await ssh.exec(acquireLock(dir, info), { allowFailure: true });
    if (r.code !== 0) {
      for (const t of taken) await t.run(releaseLock(dir)).catch(() => {});
      if (r.code === LOCK_HELD_EXIT) {
        const holder = parseLockInfo(r.stdout);
        throw new LockHeldError(`${ssh.name}: ${ctx.config.service} is locked by ${holder ? `${holder.who} running "${holder.command}" since ${holder.time}` : 'another boxship command'}`, {
          hint: 'wait for it to finish; if it died, run: boxship lock release',
        });
      }
      throw new BoxshipError(`${ssh.name}: cannot take the lock: ${r.stderr.trim() || `exit ${r.code}`}`);
    }
    taken.push(ssh);
  }
  let outcome = 'error';
  let detail: string | undefined;
  try {
    const result = await action();
    const o = outcomeOf(result);
    if (typeof o === 'string') outcome = o;
    else ({ outcome, detail } = o);
    return result;
  } catch (err) {
    detail = errorMessage(err);
    throw err;
  } finally {
    for (const ssh of taken) {
      await ssh.run(appendAudit(dir, { time: new Date().toISOString(), who: ctx.who, command: ctx.command, host: ssh.name, outcome, detail: detail?.slice(0, DETAIL_MAX) })).catch(() => {});
      await ssh.run(releaseLock(dir)).catch(() => {});
    }
  }
}
