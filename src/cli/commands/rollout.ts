/** `boxship rollout`: put a shipped release into service, one instance at a time, with health checks. */
import { type Command, InvalidArgumentError } from 'commander';
import type { GlobalOptions } from '../context.js';
import { renderDeploy } from '../render/results.js';
import { withBackend } from '../session.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

export function registerRollout(program: Command): void {
  program
    .command('rollout')
    .description('put a release into service on every host, one instance at a time behind the proxy')
    .option('--sha <sha>', 'the release to roll out (a prefix is enough); default: the newest release present on every host')
    .option('--canary <n>', 'move only N instances across the fleet, then stop; run rollout again to promote, rollback to abort', positiveInt)
    .option('--parallel', 'all hosts at once (each still one instance at a time); default: host after host')
    .option('--wait', 'return only once the old instances have finished their requests (default: they drain on their hosts)')
    .option('--plan', 'print the exact steps and commands per host without running them')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship rollout                      the newest release, everywhere
  $ boxship rollout --canary 1           one instance first; watch it with: boxship status
  $ boxship rollout                      again: promotes the canary to every instance
  $ boxship rollout --sha 3f2a9c1 --plan show what would run

Each new instance must pass the health check before it takes traffic; the old one then drains and stops on its
host while the command goes on (and after it returns: boxship status shows "draining until ..."; --wait waits).
If a new instance fails its health check, every instance changed by this run is put back (exit 1).
Exit codes: 0 done; 1 failed and rolled back cleanly; 2 the rollback failed too (what to do is printed);
130 interrupted by Ctrl-C after the move in flight (how far it got is printed; run rollout again to finish).`,
    )
    .action(async (opts: { sha?: string; canary?: number; plan?: boolean; parallel?: boolean; wait?: boolean }, cmd: Command) => {
      await withBackend(
        cmd.optsWithGlobals<GlobalOptions>(),
        async ({ backend }) => {
          // hooks.pre_rollout / post_rollout run around it, under the same lock.
          const r = await backend.deploy({
            kind: 'rollout',
            wanted: opts.sha,
            canary: opts.canary,
            plan: opts.plan,
            parallelHosts: Boolean(opts.parallel),
            wait: Boolean(opts.wait),
          });
          renderDeploy(r);
          process.exitCode = r.exitCode;
        },
        { interruptible: true },
      );
    });
}
