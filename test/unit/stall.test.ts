/** The stall rule of streamed uploads (src/hosts/stall.ts), with a destination that stops taking data. */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { watchStall } from '../../src/hosts/stall.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A destination that takes `take` chunks, then never acknowledges another (a host that stopped reading). */
function host(take: number): Writable {
  let n = 0;
  return new Writable({ highWaterMark: 1024, write: (_c, _e, done) => (n++ < take ? done() : undefined) });
}

describe('a stalled upload', () => {
  it('is found once the host has taken nothing for the limit while data waits', async () => {
    const src = Readable.from(
      (function* () {
        for (;;) yield Buffer.alloc(4096);
      })(),
    );
    let stalled = 0;
    const w = watchStall(src, 200, () => stalled++, 20);
    src.pipe(host(3));
    await sleep(500);
    expect(stalled).toBe(1);
    w.stop();
    src.destroy();
  });

  it('is not found while the deployer itself has nothing ready (a slow save), nor while output arrives', async () => {
    const src = Readable.from(
      (async function* () {
        for (let i = 0; i < 4; i++) {
          await sleep(150);
          yield Buffer.alloc(16);
        }
      })(),
    );
    let stalled = 0;
    const w = watchStall(src, 100, () => stalled++, 10);
    src.pipe(host(1000));
    await sleep(700);
    expect(stalled).toBe(0);
    w.stop();

    const held = Readable.from(
      (function* () {
        for (;;) yield Buffer.alloc(4096);
      })(),
    );
    const w2 = watchStall(held, 200, () => stalled++, 20);
    held.pipe(host(3));
    for (let i = 0; i < 10; i++) {
      await sleep(50);
      w2.activity();
    }
    expect(stalled).toBe(0);
    w2.stop();
    held.destroy();
  });
});
