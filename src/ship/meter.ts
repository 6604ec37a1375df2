/**
 * A pass-through stream that counts and sha256-hashes what flows through it: what an upload sent (checked on the
 * host before docker load) and what an unpacked layer holds (checked against its diffID) are measured the same way.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface Meter {
  stream: Transform;
  /** Bytes passed so far. */
  bytes(): number;
  /** Hex sha256 of every byte passed; call once, after the stream ended. */
  sha256(): string;
}

export function meter(onBytes?: (total: number) => void): Meter {
  const hash = createHash('sha256');
  let total = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      total += chunk.length;
      onBytes?.(total);
      done(null, chunk);
    },
  });
  return { stream, bytes: () => total, sha256: () => hash.digest('hex') };
}
