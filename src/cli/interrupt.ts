/**
 * Ctrl-C (SIGINT) and SIGTERM during a change: the first asks the run to stop after the move in flight (which
 * finishes, or is put back), releasing the locks and saying what state each host is in (exit 130). A second one
 * quits at once; the next boxship command finds the lock's holder gone and cleans up after this run.
 */
import { ExitCode } from '../util/errors.js';

/** Exit code of a run stopped by a signal, as shells report SIGINT. */
export const INTERRUPTED_EXIT = ExitCode.interrupted;

export function onInterrupt(request: () => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      process.stderr.write(
        `\n${signal}: finishing the move in flight, then stopping and releasing the lock (press Ctrl-C again to quit at once; the next boxship command then cleans up)\n`,
      );
      request();
      return;
    }
    process.stderr.write(`\n${signal} again: quitting now. Run \`boxship status\`; the next rollout or rollback takes over the lock and cleans up.\n`);
    process.exit(INTERRUPTED_EXIT);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
