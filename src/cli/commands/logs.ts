/** `boxship logs`: the logs of every instance on every host (and the proxy), merged, each line prefixed. */
import { type Command, InvalidArgumentError } from 'commander';
import { selectHosts } from '../../hosts/fleet.js';
import type { GlobalOptions } from '../context.js';
import { printLogs } from '../print-logs.js';
import { withBackend } from '../session.js';

export interface LogsOptions {
  follow?: boolean;
  host?: string[];
  since?: string;
  lines: number | 'all';
  proxy?: boolean;
  role?: string;
  timestamps?: boolean;
}

/** docker logs --since: a Go duration (10m, 1h30m, 90s) or a date/time (2026-11-25, 2026-11-25T18:00:00Z, unix seconds). */
export function sinceValue(value: string): string {
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value) || /^\d{4}-\d\d-\d\d([T ][\d:.]+)?(Z|[+-]\d\d:?\d\d)?$/.test(value) || /^\d+(\.\d+)?$/.test(value))
    return value;
  throw new InvalidArgumentError('expected a duration like 10m or 1h30m, or a time like 2026-11-25T18:00:00Z');
}

export function linesValue(value: string): number | 'all' {
  if (value === 'all') return 'all';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, or all');
  return n;
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('show the logs of every instance on every host, merged by time, each line prefixed with host and instance')
    .option('-f, --follow', 'keep following (Ctrl-C to stop); instances started later, e.g. by a rollout, are picked up')
    .option('--host <host...>', 'only these hosts')
    .option('--since <duration|time>', 'only lines since then: 10m, 1h30m, 2026-11-25T18:00:00Z', sinceValue)
    .option('-n, --lines <n>', 'the last N lines of each instance (all: everything)', linesValue, 100)
    .option('--proxy', "also the proxy's (Caddy) logs")
    .option('--role <name>', "a role's containers (roles: in boxship.yml) instead of web's instances")
    .option('-t, --timestamps', 'show each line’s time')
    .addHelpText(
      'after',
      `
Examples:
  $ boxship logs                          the last 100 lines of each instance, merged by time
  $ boxship logs -f                       follow, across rollouts, until Ctrl-C
  $ boxship logs --since 10m --proxy      the last ten minutes, proxy included
  $ boxship logs --host 10.0.0.5 -n 20

Lines look like: <host> <service>-<slot>/<colour> | <text>. Only reads: nothing on the hosts changes.`,
    )
    .action(async (opts: LogsOptions, cmd: Command) => {
      await withBackend(
        cmd.optsWithGlobals<GlobalOptions>(),
        async ({ config, backend }) => {
          process.exitCode = await printLogs(
            backend,
            config,
            {
              hosts: opts.host ? selectHosts(config, opts.host) : undefined,
              proxy: opts.proxy,
              ...(opts.role ? { role: opts.role } : {}),
              follow: opts.follow,
              since: opts.since,
              lines: opts.lines === 'all' ? undefined : opts.lines,
            },
            opts.timestamps,
          );
        },
        { verbose: true },
      );
    });
}
