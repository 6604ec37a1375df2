/**
 * What `boxship logs` and `boxship accessory logs` share: connect to the hosts (an unreachable one is reported and
 * makes the exit code 1, the others still print), print each line prefixed with host and source, and stop cleanly on
 * Ctrl-C while following.
 */
import type { HostConfig } from '../config/types.js';
import { openFleet } from '../hosts/fleet.js';
import { formatLine } from '../logs/lines.js';
import { type LogsRequest, readLogs } from '../logs/read.js';
import { ExitCode } from '../util/errors.js';
import { eventLine } from './fleet-session.js';

export async function printLogs(
  hosts: HostConfig[],
  options: { acceptNewHostKeys?: boolean; timestamps?: boolean; sourceWidth: number },
  request: Omit<LogsRequest, 'hosts' | 'signal' | 'onLine' | 'report'>,
): Promise<void> {
  const fleet = await openFleet(hosts, { acceptNewHostKeys: options.acceptNewHostKeys });
  for (const u of fleet.unreachable) process.stderr.write(`error: ${u.error.message}\n`);
  const width = Math.max(...hosts.map((h) => h.name.length)) + 1 + options.sourceWidth;
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    await readLogs({
      ...request,
      hosts: fleet.hosts,
      signal: stop.signal,
      onLine: (l) => process.stdout.write(`${formatLine(l, width, options.timestamps)}\n`),
      report: (e) => process.stderr.write(`${e.kind === 'warning' ? 'warning: ' : ''}${eventLine(e)}\n`),
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
    fleet.close();
  }
  process.exitCode = fleet.unreachable.length ? ExitCode.failed : ExitCode.ok;
}
