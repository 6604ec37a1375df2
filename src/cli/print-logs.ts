/**
 * What `boxship logs` and `boxship accessory logs` share: each line printed prefixed with host and source (aligned),
 * an unreachable host said on stderr (exit code 1, the others still print), and Ctrl-C ending a follow cleanly.
 */
import type { Backend, LogsRequest } from '../backend/types.js';
import type { Config, HostConfig } from '../config/types.js';
import { names } from '../fleet/names.js';
import { formatLine } from '../logs/lines.js';

export async function printLogs(
  backend: Backend,
  config: Config,
  req: Omit<LogsRequest, 'onLine' | 'signal' | 'onUnreachable'>,
  timestamps: boolean | undefined,
): Promise<number> {
  const hosts: HostConfig[] = req.hosts ?? config.hosts;
  const sourceWidth =
    req.accessory !== undefined
      ? names.accessory(config.service, req.accessory).length
      : req.role !== undefined
        ? names.role(config.service, req.role, 10).length
        : Math.max(config.service.length + 8, 'proxy'.length);
  const width = Math.max(...hosts.map((h) => h.name.length)) + 1 + sourceWidth;
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    const r = await backend.logs({
      ...req,
      signal: stop.signal,
      onLine: (l) => process.stdout.write(`${formatLine(l, width, timestamps)}\n`),
      onUnreachable: (_host, error) => process.stderr.write(`error: ${error.message}\n`),
    });
    return r.exitCode;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
