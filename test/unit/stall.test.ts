/** The stall rule of streamed uploads (src/hosts/stall.ts), with a destination that stops taking data. */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { watchStall } from '../../src/hosts/stall.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An upload that always has data ready. */
const endless = () =>
  Readable.from(
    (function* () {
      for (;;) yield Buffer.alloc(4096);
    })(),
  );

/** A destination that takes `take` chunks, then never acknowledges another (a host that stopped reading). */
function host(take: number): Writable {
  let n = 0;
  return new Writable({ highWaterMark: 1024, write: (_c, _e, done) => (n++ < take ? done() : undefined) });
}

/** `src` piped to a host that takes `take` chunks, watched with `limitMs`: how many stalls were found. */
function watched(src: Readable, limitMs: number, take: number) {
  let stalls = 0;
  const w = watchStall(src, limitMs, () => stalls++, limitMs / 10);
  src.pipe(host(take));
  return {
    activity: () => w.activity(),
    stalls: () => stalls,
    stop: () => {
      w.stop();
      src.destroy();
    },
  };
}

describe('a stalled upload', () => {
  it('is found once the host has taken nothing for the limit while data waits', async () => {
    const w = watched(endless(), 200, 3);
    await sleep(500);
    expect(w.stalls()).toBe(1);
    w.stop();
  });

  it('is not found while the deployer itself has nothing ready (a slow save)', async () => {
    const slow = Readable.from(
      (async function* () {
        for (let i = 0; i < 4; i++) {
          await sleep(150);
          yield Buffer.alloc(16);
        }
      })(),
    );
    const w = watched(slow, 100, 1000);
    await sleep(700);
    expect(w.stalls()).toBe(0);
    w.stop();
  });

  it('is not found while the host prints output', async () => {
    const w = watched(endless(), 1000, 3);
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      w.activity();
    }
    expect(w.stalls()).toBe(0);
    w.stop();
  });
});
