/**
 * `boxship lock release` on the hosts that keep a service's lock, for both backends. A lock whose holder looks alive
 * (a fresh heartbeat, and not a process on this machine known to be gone) is released on no host unless forced:
 * removing it lets a second command change the hosts while the first still does. A stale one is removed, and each
 * host's audit log says whose it was.
 */
import type { Runner } from '../hosts/runner.js';
import { appendAudit } from '../state/audit.js';
import { lockAge, parseLockInfo, readLock, releaseLock, staleReason } from '../state/lock.js';

interface LockHolder {
  who: string;
  command: string;
  time: string;
}

export interface LockReleaseOutcome {
  /** The hosts whose lock was released (none when any was refused). */
  hosts: { host: string; heldBy?: LockHolder }[];
  /** The hosts whose holder looks alive, so nothing was released: with the holder and its heartbeat's age. */
  refused: { host: string; heldBy?: LockHolder; ageSeconds: number }[];
}

const holderOf = (info: LockHolder | undefined): LockHolder | undefined => (info ? { who: info.who, command: info.command, time: info.time } : undefined);

export async function releaseLocks(hosts: readonly Runner[], dir: string, by: { who: string; command: string }, force: boolean): Promise<LockReleaseOutcome> {
  const held = await Promise.all(
    hosts.map(async (ssh) => {
      const [text, age] = await Promise.all([ssh.run(readLock(dir)), ssh.run(lockAge(dir))]);
      const ageSeconds = age.trim() === '' ? undefined : Number(age.trim());
      return { ssh, info: parseLockInfo(text), ageSeconds };
    }),
  );
  const refused = held.flatMap(({ ssh, info, ageSeconds }) =>
    ageSeconds !== undefined && Number.isFinite(ageSeconds) && staleReason({ info, ageSeconds }) === undefined
      ? [{ host: ssh.name, ...(info ? { heldBy: holderOf(info) } : {}), ageSeconds }]
      : [],
  );
  if (refused.length && !force) return { hosts: [], refused };
  const released: LockReleaseOutcome['hosts'] = [];
  for (const { ssh, info } of held) {
    await ssh.run(releaseLock(dir));
    await ssh.run(
      appendAudit(dir, {
        time: new Date().toISOString(),
        who: by.who,
        command: by.command,
        host: ssh.name,
        outcome: 'lock released',
        detail: `${info ? `was held by ${info.who} (${info.command}, ${info.time})` : 'was not held'}${refused.some((r) => r.host === ssh.name) ? ', alive (--force)' : ''}`,
      }),
    );
    released.push({ host: ssh.name, ...(info ? { heldBy: holderOf(info) } : {}) });
  }
  return { hosts: released, refused: [] };
}
