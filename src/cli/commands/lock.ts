/** `boxship lock release`: break a stale deploy lock (one left by a command that died). */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { withBackend } from '../session.js';

export function registerLock(program: Command): void {
  const lock = program.command('lock').description('break a stale deploy lock (boxship status shows who holds it)');
  lock
    .command('release')
    .description('remove the deploy lock on every host (only when the command holding it is known to be dead)')
    .addHelpText('after', '\nExample:\n  $ boxship lock release     after a rollout was killed mid-way; then: boxship status')
    .action(async (_o: unknown, cmd: Command) => {
      await withBackend(cmd.optsWithGlobals<GlobalOptions>(), async ({ backend }) => {
        const r = await backend.releaseLock();
        for (const h of r.hosts) {
          process.stdout.write(
            `${h.host}: ${h.heldBy ? `released the lock held by ${h.heldBy.who} running "${h.heldBy.command}" since ${h.heldBy.time}` : 'no lock was held'}\n`,
          );
        }
        process.exitCode = r.exitCode;
      });
    });
}
