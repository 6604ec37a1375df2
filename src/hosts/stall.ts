/**
 * A stall of a streamed upload: the host stops taking its stdin (the stream is held back by the channel's flow
 * control) and prints nothing, for longer than a limit. Waiting on the deployer's own side (a layer still being
 * saved, so nothing is ready to send) is not a stall, nor is the time after the upload ended (the host loads then,
 * under its own time limit). Apart from ssh.ts so the rule is tested without a connection.
 */
import type { Readable } from 'node:stream';

export interface StallWatch {
  /** Output arrived from the host: it is alive. */
  activity(): void;
  stop(): void;
}

/** Calls `onStall` once when `stdin` has been held back, with no activity, for `limitMs`; checks every `everyMs`. */
export function watchStall(stdin: Readable, limitMs: number, onStall: () => void, everyMs = Math.min(1000, limitMs / 4)): StallWatch {
  let last = Date.now();
  const seen = () => {
    last = Date.now();
  };
  stdin.on('data', seen);
  const timer = setInterval(() => {
    // isPaused: a pipe pauses its source while the destination's buffer is full (the host takes nothing).
    const heldBack = !stdin.readableEnded && stdin.isPaused();
    if (!heldBack) return seen();
    if (Date.now() - last >= limitMs) {
      stop();
      onStall();
    }
  }, everyMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    stdin.removeListener('data', seen);
  };
  return { activity: seen, stop };
}
