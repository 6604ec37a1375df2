/** `boxship setup`: prepare every host (idempotent). Rollout does this too; run it alone to check a new host. */
import type { Command } from 'commander';
import { ensureAccessories } from '../../accessories/run.js';
import type { Runner } from '../../hosts/runner.js';
import { withLock } from '../../fleet/lock.js';
import { ensureHost } from '../../rollout/setup.js';
import { configFrom, localDocker, type GlobalOptions } from '../context.js';
import { swarmSetup } from '../swarm.js';
import { withProgress, withSession } from '../fleet-session.js';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('prepare every host: Docker check, network, state dirs, env file (0600), proxy container, missing accessories (idempotent)')
    .addHelpText(
      'after',
      '\nExample:\n  $ boxship setup --accept-new-host-keys     first contact with new servers\n\nNothing to undo: setup changes nothing that serves.',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(globals);
      if (config.swarm) {
        process.exitCode = await swarmSetup(globals, config);
        return;
      }
      const docker = await localDocker();
      await withSession(cmd.optsWithGlobals<GlobalOptions>(), async ({ ctx }) => {
        // Accessories that are missing are started once the host is ready (a running one is never restarted).
        const prepare = (h: Runner) => ensureHost(ctx, h, docker).then(() => ensureAccessories(ctx, h, docker));
        await withLock(
          ctx,
          () => withProgress(`Set up ${ctx.hosts.length} hosts`, ctx, () => Promise.all(ctx.hosts.map(prepare))),
          () => 'setup done',
        );
        process.stdout.write(`\n${ctx.hosts.length} hosts are ready. Next: boxship release, then boxship rollout.\n`);
      });
    });
}
