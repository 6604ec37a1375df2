/** `boxship maintenance on|off`: the proxy answers every request with 503 + Retry-After + the backoff header. */
import { type Command, InvalidArgumentError } from 'commander';
import type { ProxyMode } from '../../proxy/caddy-answers.js';
import type { GlobalOptions } from '../context.js';
import { renderMaintenance } from '../render/results.js';
import { withBackend } from '../session.js';
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
      await withBackend(cmd.optsWithGlobals<GlobalOptions>(), async ({ config, backend }) => {
        const mode: ProxyMode =
          state === 'on'
            ? { kind: 'maintenance', retryAfterSeconds: opts.retryAfter ?? config.proxy.retryAfterSeconds, message: opts.message ?? '' }
            : { kind: 'serving' };
        const r = await backend.maintenance({ mode, plan: opts.plan });
        renderMaintenance(r);
        process.exitCode = r.exitCode;
      });
    });
}
