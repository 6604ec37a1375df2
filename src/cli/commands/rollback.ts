/**
 * `boxship rollback`: back to the previous release (or abort a canary), which is still on the hosts: no transfer,
 * one instance at a time with health checks.
 */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { renderDeploy } from '../render/results.js';
import { withBackend } from '../session.js';

export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .description('return to the previous release (already on the hosts: nothing is transferred); aborts a canary')
    .option('--to <sha>', 'the release to return to (a prefix is enough); default: the previous one')
    .option('--serial', 'host after host; default: all hosts at once, each one instance at a time (leaving a bad release fast)')
    .option('--wait', 'return only once the old instances have finished their requests (default: they drain on their hosts)')
    .option('--plan', 'print the exact steps and commands per host without running them')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship rollback                     the release that served before the current one
  $ boxship rollback                     during a canary: put the canary instances back
  $ boxship rollback --to 3f2a9c1
  $ boxship rollback --serial            host after host instead of all hosts at once

Every host changes one instance at a time, with health checks; hosts go at once unless --serial. The command
returns once traffic has moved; old instances finish their requests on their hosts (--wait waits for them).

To undo a rollback, roll out the release again: boxship rollout --sha <sha>`,
    )
    .action(async (opts: { to?: string; plan?: boolean; serial?: boolean; wait?: boolean }, cmd: Command) => {
      await withBackend(
        cmd.optsWithGlobals<GlobalOptions>(),
        async ({ backend }) => {
          const r = await backend.deploy({ kind: 'rollback', wanted: opts.to, plan: opts.plan, parallelHosts: !opts.serial, wait: Boolean(opts.wait) });
          renderDeploy(r);
          process.exitCode = r.exitCode;
        },
        { interruptible: true },
      );
    });
}
