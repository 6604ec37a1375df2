/** `boxship setup`: prepare every host (idempotent). Rollout does this too; run it alone to check a new host. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { renderSetup } from '../render/results.js';
import { withBackend } from '../session.js';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('prepare every host: Docker check, network, state dirs, env file (0600), proxy container, missing accessories (idempotent)')
    .option('--plan', 'print the exact steps and commands per host without running them')
    .addHelpText(
      'after',
      '\nExamples:\n  $ boxship setup --accept-new-host-keys     first contact with new servers\n  $ boxship setup --plan                     the commands it would run on each host\n\nNothing to undo: setup changes nothing that serves.',
    )
    .action(async (opts: { plan?: boolean }, cmd: Command) => {
      await withBackend(cmd.optsWithGlobals<GlobalOptions>(), async ({ backend }) => {
        const r = await backend.setup({ plan: opts.plan });
        renderSetup(r);
        process.exitCode = r.exitCode;
      });
    });
}
