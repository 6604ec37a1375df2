/** `boxship lock release`: break a stale deploy lock (one left by a command that died). */
import type { Command } from 'commander';
import { parseLockInfo, readLock, releaseLock } from '../../state/lock.js';
import { appendAudit } from '../../state/audit.js';
import { relState } from '../../fleet/context.js';
import type { GlobalOptions } from '../context.js';
import { withSession } from '../fleet-session.js';

export function registerLock(program: Command): void {
  const lock = program.command('lock').description('break a stale deploy lock (boxship status shows who holds it)');
  lock
    .command('release')
    .description('remove the deploy lock on every host (only when the command holding it is known to be dead)')
    .addHelpText('after', '\nExample:\n  $ boxship lock release     after a rollout was killed mid-way; then: boxship status')
    .action(async (_o: unknown, cmd: Command) => {
      await withSession(cmd.optsWithGlobals<GlobalOptions>(), async ({ ctx }) => {
        for (const ssh of ctx.hosts) {
          const holder = parseLockInfo(await ssh.run(readLock(relState(ctx))));
          await ssh.run(releaseLock(relState(ctx)));
          await ssh.run(
            appendAudit(relState(ctx), {
              time: new Date().toISOString(),
              who: ctx.who,
              command: ctx.command,
              host: ssh.name,
              outcome: 'lock released',
              detail: holder ? `was held by ${holder.who} (${holder.command}, ${holder.time})` : 'was not held',
            }),
          );
          process.stdout.write(
            `${ssh.name}: ${holder ? `released the lock held by ${holder.who} running "${holder.command}" since ${holder.time}` : 'no lock was held'}\n`,
          );
        }
      });
    });
}
