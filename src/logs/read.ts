/**
 * `boxship logs`: reads (or follows) the logs of every instance of a service on every host, as one stream of lines.
 * Following polls each host's container list, so instances started later (a rollout's new colour) are picked up and
 * stopped ones drop out. Nothing here prints: lines and notices go to the callbacks.
 */
import { PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Command } from '../hosts/command.js';
import type { Runner } from '../hosts/runner.js';
import { errorMessage } from '../util/errors.js';
import type { Report } from '../util/events.js';
import { containerLogs, listLogSources, type LogOptions, type LogSource, parseLogSources } from './commands.js';
import { LineSplitter, type LogLine, mergeByTime, splitTimestamp, timeKey } from './lines.js';

export interface LogsRequest extends LogOptions {
  hosts: Runner[];
  service: string;
  proxy?: boolean;
  /** Read these containers instead of the instances (an accessory): the listing command, in listLogSources' format. */
  list?: (following: boolean) => Command;
  /** What the warning about a host without any says, e.g. "hello-db container"; default: "<service> container". */
  what?: string;
  onLine(line: LogLine): void;
  report?: Report;
  /** Following stops when this aborts (Ctrl-C). */
  signal?: AbortSignal;
  /** How often a followed host's container list is read again (default 1500 ms). */
  pollMs?: number;
}

function toLines(host: string, source: LogSource, text: string): LogLine[] {
  const splitter = new LineSplitter();
  return [...splitter.push(text), ...splitter.flush()].map((l) => ({ host, source: source.label, ...splitTimestamp(l) }));
}

async function backlog(ssh: Runner, sources: LogSource[], o: LogOptions): Promise<Array<LogLine & { id: string }>> {
  const per = await Promise.all(
    sources.map(async (s) => {
      const r = await ssh.exec(containerLogs(s.id, { since: o.since, lines: o.lines }), { allowFailure: true });
      // A container removed between the listing and the read (a swap finishing) simply has no more lines.
      return r.code === 0 ? toLines(ssh.name, s, r.stdout).map((l) => ({ ...l, id: s.id })) : [];
    }),
  );
  return per.flat();
}

/** Reads the logs once (merged by time) or, with `follow`, until the signal aborts. */
export async function readLogs(req: LogsRequest): Promise<void> {
  const report = req.report ?? (() => {});
  const list = (following: boolean) => (req.list ? req.list(following) : listLogSources(req.service, Boolean(req.proxy)));
  const listed = await Promise.all(req.hosts.map(async (ssh) => ({ ssh, sources: parseLogSources(await ssh.run(list(false)), req.service) })));
  for (const { ssh, sources } of listed)
    if (sources.length === 0) report({ kind: 'warning', host: ssh.name, message: `no ${req.list ? '' : 'running '}${req.what ?? `${req.service} container`}` });
  const lines = (await Promise.all(listed.map(({ ssh, sources }) => backlog(ssh, sources, req)))).flat();
  const last = new Map<string, string>();
  for (const l of mergeByTime(lines)) {
    req.onLine({ host: l.host, source: l.source, time: l.time, text: l.text });
    const k = timeKey(l.time);
    if (k > (last.get(l.id) ?? '')) last.set(l.id, k);
  }
  if (!req.follow || req.signal?.aborted) return;
  await Promise.all(listed.map(({ ssh, sources }) => followHost(ssh, sources, req, last, report)));
}

async function followHost(ssh: Runner, initial: LogSource[], req: LogsRequest, last: Map<string, string>, report: Report): Promise<void> {
  const active = new Map<string, { stop(): void; done: Promise<void> }>();
  const follow = (s: LogSource, fresh: boolean) => {
    const stdin = new PassThrough();
    const decoder = new StringDecoder('utf8');
    const splitter = new LineSplitter();
    const emit = (raw: string) => {
      const l = { host: ssh.name, source: s.label, ...splitTimestamp(raw) };
      const k = timeKey(l.time);
      // Lines already printed from the backlog come again (same --tail/--since): skip them.
      if (k && k <= (last.get(s.id) ?? '')) return;
      if (k) last.set(s.id, k);
      req.onLine(l);
    };
    // Known containers are read again from where the backlog started; a new one from its first line.
    const opts: LogOptions = fresh ? { follow: true } : { follow: true, since: req.since, lines: req.lines };
    const done = ssh
      .exec(containerLogs(s.id, opts), { stdin, allowFailure: true, timeoutMs: 0, onStdout: (chunk) => splitter.push(decoder.write(chunk)).forEach(emit) })
      .then(
        () => splitter.push(decoder.end()).concat(splitter.flush()).forEach(emit),
        (err) => report({ kind: 'warning', host: ssh.name, message: `stopped following ${s.label}: ${errorMessage(err)}` }),
      )
      .finally(() => active.delete(s.id));
    active.set(s.id, { stop: () => stdin.end(), done });
  };
  for (const s of initial) follow(s, false);

  const pollMs = req.pollMs ?? 1500;
  while (!req.signal?.aborted) {
    await sleep(pollMs, req.signal);
    if (req.signal?.aborted) break;
    let now: LogSource[];
    try {
      now = parseLogSources(await ssh.run(req.list ? req.list(true) : listLogSources(req.service, Boolean(req.proxy))), req.service);
    } catch (err) {
      report({ kind: 'warning', host: ssh.name, message: `cannot list containers: ${errorMessage(err)}` });
      break;
    }
    for (const s of now) {
      if (active.has(s.id)) continue;
      // Seen before (it restarted): its old lines are skipped by time; never seen: a new instance.
      report({ kind: 'step', host: ssh.name, message: `following ${s.label}` });
      follow(s, !last.has(s.id));
    }
  }
  for (const f of active.values()) f.stop();
  await Promise.all([...active.values()].map((f) => f.done));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
