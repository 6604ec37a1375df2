/**
 * `boxship rollback`: back to the previous release (or abort a canary), which is still on the hosts: no transfer,
 * one instance at a time with health checks.
 */
import type { Command } from 'commander';
import { pickRelease } from '../../fleet/releases.js';
import { InputError } from '../../util/errors.js';
import { configFrom, type GlobalOptions } from '../context.js';
import { swarmDeploy } from '../swarm.js';
import { deploy } from '../deploy.js';

export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .description('return to the previous release (already on the hosts: nothing is transferred); aborts a canary')
    .option('--to <sha>', 'the release to return to (a prefix is enough); default: the previous one')
    .option('--serial', 'host after host; default: all hosts at once, each one instance at a time (leaving a bad release fast)')
    .option('--plan', 'print the exact steps and commands per host without running them')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship rollback                     the release that served before the current one
  $ boxship rollback                     during a canary: put the canary instances back
  $ boxship rollback --to 3f2a9c1
  $ boxship rollback --serial            host after host instead of all hosts at once

Every host changes one instance at a time, with health checks; hosts go at once unless --serial.

To undo a rollback, roll out the release again: boxship rollout --sha <sha>`,
    )
    .action(async (opts: { to?: string; plan?: boolean; serial?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(globals);
      if (config.swarm) {
        process.exitCode = (await swarmDeploy(globals, config, { kind: 'rollback', wanted: opts.to, plan: opts.plan })).code;
        return;
      }
      process.exitCode = await deploy(globals, {
        kind: 'rollback',
        plan: opts.plan,
        parallelHosts: !opts.serial,
        chooseTarget: (releases, fleet, ctx) => {
          const hosts = ctx.hosts.map((h) => h.name);
          if (opts.to) return pickRelease(releases, opts.to, hosts);
          // A canary in progress: some instances run something other than the current release. Abort it.
          const canary = releases.current !== undefined && fleet.some((f) => f.state.slots.some((s) => s.tag !== null && s.tag !== releases.current));
          const target = canary ? releases.current : releases.previous;
          if (!target)
            throw new InputError('there is no previous release to roll back to', {
              hint: 'boxship rollback works once a second release has been rolled out; see: boxship releases',
            });
          return pickRelease(releases, target, hosts);
        },
      });
    });
}
