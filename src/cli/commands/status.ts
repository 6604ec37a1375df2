/** `boxship status`: per host, the proxy mode, each instance (release, health), current and previous release, lock. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { renderStatus } from '../render/results.js';
import { withBackend } from '../session.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show, per host: proxy mode, instances with their release and health, accessories, current and previous release, lock holder')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  $ boxship status\n  $ boxship status --json')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withBackend(cmd.optsWithGlobals<GlobalOptions>(), async ({ backend }) => {
        const r = await backend.status();
        renderStatus(r, Boolean(opts.json));
        process.exitCode = r.exitCode;
      });
    });
}
