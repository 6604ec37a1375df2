/**
 * Shared by the commands that change what serves (setup, rollout, rollback, maintenance): every host must be
 * reachable before anything changes, progress is shown with listr2, and connections are always closed.
 */
import { Listr } from 'listr2';
import type { Config, HostConfig } from '../config/types.js';
import { openFleet } from '../hosts/fleet.js';
import type { DeployContext } from '../fleet/context.js';
import { whoAmI } from '../state/ledger.js';
import type { ProgressEvent } from '../util/events.js';
import { redact } from '../util/redact.js';
import { configFrom, listrOptions, type GlobalOptions } from './context.js';

export interface Session {
  config: Config;
  ctx: DeployContext;
}

/**
 * Connects to every host (or every one of `pick`'s, e.g. an accessory's) or to none: a change must not start on a
 * fleet it cannot finish.
 */
async function openSession(globals: GlobalOptions, commandLine: string, pick?: (config: Config) => HostConfig[]): Promise<Session & { close(): void }> {
  const config = configFrom(globals);
  const fleet = await openFleet(pick ? pick(config) : config.hosts, { acceptNewHostKeys: globals.acceptNewHostKeys, requireAll: true });
  const ctx: DeployContext = { config, hosts: fleet.hosts, who: whoAmI(), command: commandLine, report: () => {} };
  return { config, ctx, close: fleet.close };
}

/** Opens the session, runs `work`, and always closes the connections. */
export async function withSession<T>(globals: GlobalOptions, work: (session: Session) => Promise<T>, pick?: (config: Config) => HostConfig[]): Promise<T> {
  const session = await openSession(globals, commandLine(), pick);
  try {
    return await work(session);
  } finally {
    session.close();
  }
}

/**
 * Redacted here as well as on the way out: on a terminal listr2 wraps a long line to its width, and a secret cut in
 * two by the wrap would no longer be recognised by the stream guard.
 */
export function eventLine(e: ProgressEvent): string | undefined {
  if (e.kind === 'bytes') return undefined;
  const text = 'message' in e ? redact(e.message) : '';
  return 'host' in e && e.host ? `${e.host}: ${text}` : text;
}

/** Runs `work` as one listr2 task whose output follows the progress events. */
/** `failure` names a result that is a failure without being an exception (a run that rolled back): it becomes the title. */
export async function withProgress<T>(title: string, ctx: DeployContext, work: () => Promise<T>, failure?: (r: T) => string | undefined): Promise<T> {
  let result: T | undefined;
  const warnings: string[] = [];
  const original = ctx.report;
  await new Listr(
    [
      {
        title,
        task: async (_c, task) => {
          ctx.report = (e) => {
            if (e.kind === 'warning') warnings.push(eventLine(e) ?? '');
            const line = eventLine(e);
            if (line) task.output = line;
          };
          try {
            result = await work();
            const failed = failure?.(result);
            if (failed) task.title = failed;
          } finally {
            ctx.report = original;
          }
        },
      },
    ],
    listrOptions,
  ).run();
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  return result as T;
}

export function commandLine(): string {
  return ['boxship', ...process.argv.slice(2)].join(' ');
}
