/** `boxship lock release`: break a stale deploy lock (one left by a command that died). */
import { confirm } from '../confirm.js';
import type { Command } from 'commander';
import type { LockReleaseResult } from '../../backend/types.js';
import { BoxshipError, ExitCode } from '../../util/errors.js';
import { type GlobalOptions, interactive } from '../context.js';
import { withBackend } from '../session.js';

function refusedText(r: LockReleaseResult): string {
  return r.refused
    .map(
      (h) =>
        `${h.host}: held by ${h.heldBy ? `${h.heldBy.who} running "${h.heldBy.command}" since ${h.heldBy.time}` : 'an unknown holder'}, its last heartbeat ${h.ageSeconds}s ago`,
    )
    .join('\n');
}

/** On a terminal, whether the user releases a lock whose holder looks alive anyway (default no). */
async function confirmed(r: LockReleaseResult): Promise<boolean> {
  if (!interactive || !process.stdin.isTTY) return false;
  return confirm(`${refusedText(r)}\nIts holder looks alive. Release the lock anyway? [y/N] `);
}

export function registerLock(program: Command): void {
  const lock = program.command('lock').description('break a stale deploy lock (boxship status shows who holds it)');
  lock
    .command('release')
    .description('remove the deploy lock on every host (only when the command holding it is known to be dead)')
    .option('--force', 'remove it even while its holder looks alive (a fresh heartbeat): only when you know it is gone')
    .addHelpText(
      'after',
      [
        '',
        'A lock whose holder still sends its heartbeat is not removed: on a terminal you are asked, elsewhere it exits 2',
        "naming the holder. Removing a live holder's lock lets two commands change the hosts at once.",
        '',
        'Examples:',
        '  $ boxship lock release           after a rollout was killed mid-way; then: boxship status',
        '  $ boxship lock release --force   the holder is gone for sure (its machine is off) but its heartbeat is recent',
      ].join('\n'),
    )
    .action(async (o: { force?: boolean }, cmd: Command) => {
      await withBackend(cmd.optsWithGlobals<GlobalOptions>(), async ({ backend }) => {
        let r = await backend.releaseLock({ force: o.force === true });
        if (r.refused.length && (await confirmed(r))) r = await backend.releaseLock({ force: true });
        if (r.refused.length) {
          throw new BoxshipError(`the deploy lock is held by a command that looks alive; nothing was released:\n${refusedText(r)}`, {
            hint: 'wait for it to finish (boxship status shows who holds it); if you know it is gone, run: boxship lock release --force',
            exitCode: ExitCode.needsAction,
          });
        }
        for (const h of r.hosts) {
          process.stdout.write(
            `${h.host}: ${h.heldBy ? `released the lock held by ${h.heldBy.who} running "${h.heldBy.command}" since ${h.heldBy.time}` : 'no lock was held'}\n`,
          );
        }
        process.exitCode = r.exitCode;
      });
    });
}
