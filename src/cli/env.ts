/**
 * The BackendEnv the commands lend a backend: listr2 steps for progress, warnings on stderr, Ctrl-C as a stop
 * request, the local engine on first use, the terminal for hooks' output. The one place that turns the library's
 * events into what the terminal shows.
 */
import { Listr } from 'listr2';
import type { BackendEnv } from '../backend/types.js';
import type { ProgressEvent, Report } from '../util/events.js';
import { redact } from '../util/redact.js';
import { listrOptions, localDocker, type GlobalOptions } from './context.js';
import { onInterrupt } from './interrupt.js';

/**
 * Redacted here as well as on the way out: on a terminal listr2 wraps a long line to its width, and a secret cut in
 * two by the wrap would no longer be recognised by the stream guard.
 */
function eventLine(e: ProgressEvent): string | undefined {
  if (e.kind === 'bytes') return undefined;
  const text = 'message' in e ? redact(e.message) : '';
  return 'host' in e && e.host ? `${e.host}: ${text}` : text;
}

/** Outside a step: warnings on stderr (with the prefix), other lines plain on stderr when `verbose`. */
function stderrReport(verbose: boolean): Report {
  return (e) => {
    const line = eventLine(e);
    if (!line) return;
    if (e.kind === 'warning') process.stderr.write(`warning: ${line}\n`);
    else if (verbose) process.stderr.write(`${line}\n`);
  };
}

function commandLine(): string {
  return ['boxship', ...process.argv.slice(2)].join(' ');
}

export interface CliEnv extends BackendEnv {
  /** Stops listening for Ctrl-C. */
  done(): void;
}

/**
 * `verbose`: outside a step, progress lines are shown too (the Swarm commands say what they wait for that way).
 * `interruptible`: Ctrl-C asks the run to stop after the move in flight (rollout, rollback, deploy).
 */
export function cliEnv(globals: GlobalOptions, opts: { verbose?: boolean; interruptible?: boolean } = {}): CliEnv {
  const outside = stderrReport(Boolean(opts.verbose));
  let sink: Report = outside;
  const interrupt = { requested: false };
  const stop = opts.interruptible ? onInterrupt(() => (interrupt.requested = true)) : () => {};
  let docker: ReturnType<typeof localDocker> | undefined;
  return {
    acceptNewHostKeys: globals.acceptNewHostKeys,
    commandLine: commandLine(),
    interrupt,
    report: (e) => sink(e),
    docker: () => (docker ??= localDocker()),
    hookIo: { stdout: process.stdout, stderr: process.stderr },
    done: stop,
    async step(title, work, failed) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      const warnings: string[] = [];
      const before = sink;
      await new Listr(
        [
          {
            title,
            task: async (_c, task) => {
              sink = (e) => {
                const line = eventLine(e);
                if (e.kind === 'warning') warnings.push(line ?? '');
                if (line) task.output = line;
              };
              try {
                result = await work();
                const f = failed?.(result);
                if (f) task.title = f;
              } finally {
                sink = before;
              }
            },
          },
        ],
        listrOptions,
      ).run();
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      return result as Awaited<ReturnType<typeof work>>;
    },
  };
}
