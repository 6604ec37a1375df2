/** `boxship maintenance on|off`: the proxy answers every request with 503 + Retry-After + the backoff header. */
import { type Command, InvalidArgumentError } from 'commander';
import { DryRunRunner } from '../../hosts/runner.js';
import type { ProxyMode } from '../../proxy/caddy-answers.js';
import { withLock } from '../../rollout/session.js';
import { ensureHost } from '../../rollout/setup.js';
import { configFrom, localDocker, type GlobalOptions } from '../context.js';
import { swarmMaintenance } from '../swarm.js';
import { withProgress, withSession } from '../fleet-session.js';
import { positiveInt } from './rollout.js';

interface MaintenanceOptions {
  retryAfter?: number;
  message?: string;
  plan?: boolean;
}

export function registerMaintenance(program: Command): void {
  program
    .command('maintenance')
    .description('turn maintenance mode on or off: every request gets 503 with Retry-After and the backoff header')
    .argument('<on|off>', 'on or off', (v: string) => {
      if (v !== 'on' && v !== 'off') throw new InvalidArgumentError('expected "on" or "off"');
      return v;
    })
    .option('--retry-after <seconds>', 'Retry-After (and backoff header) value while on; default proxy.retry_after', positiveInt)
    .option('--message <text>', 'text of the 503 answer', 'The service is down for maintenance. Please retry later.')
    .option('--plan', 'print the exact steps per host without running them')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship maintenance on --retry-after 120 --message "Upgrading the database, back soon"
  $ boxship maintenance off

The proxy's own health endpoint (/__boxship/health) still answers 200, so an outer load balancer keeps the host.
Maintenance mode survives a restart of the proxy container.`,
    )
    .action(async (state: 'on' | 'off', opts: MaintenanceOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const config = configFrom(globals);
      if (config.swarm) {
        const mode: ProxyMode =
          state === 'on'
            ? { kind: 'maintenance', retryAfterSeconds: opts.retryAfter ?? config.proxy.retryAfterSeconds, message: opts.message ?? '' }
            : { kind: 'serving' };
        return swarmMaintenance(globals, config, mode, opts.plan);
      }
      await withSession(cmd.optsWithGlobals<GlobalOptions>(), async ({ ctx, config }) => {
        const mode: ProxyMode =
          state === 'on'
            ? { kind: 'maintenance', retryAfterSeconds: opts.retryAfter ?? config.proxy.retryAfterSeconds, message: opts.message ?? '' }
            : { kind: 'serving' };
        const docker = await localDocker();
        if (opts.plan) {
          // The real command against dry-run runners: reads run, writes are recorded and printed.
          const dry = ctx.hosts.map((h) => new DryRunRunner(h));
          const planCtx = { ...ctx, hosts: dry, report: () => {} };
          await withLock(
            planCtx,
            () => Promise.all(dry.map((h) => ensureHost(planCtx, h, docker, mode))),
            () => `maintenance ${state}`,
          );
          process.stdout.write(`Plan: maintenance ${state} on ${ctx.hosts.length} hosts; nothing has been run.\n`);
          for (const d of dry) process.stdout.write(`\n${d.name}\n${d.describe().join('\n')}\n`);
          return;
        }
        await withLock(
          ctx,
          () =>
            withProgress(`Maintenance ${state} on ${ctx.hosts.length} hosts`, ctx, () => Promise.all(ctx.hosts.map((h) => ensureHost(ctx, h, docker, mode)))),
          () => `maintenance ${state}`,
        );
        if (state === 'on')
          process.stdout.write(
            `\nMaintenance is on: every request gets 503 with Retry-After: ${mode.kind === 'maintenance' ? mode.retryAfterSeconds : ''}.\nTo undo, run: boxship maintenance off\n`,
          );
        else process.stdout.write('\nMaintenance is off: the proxy serves the instances again.\nTo undo, run: boxship maintenance on\n');
      });
    });
}
