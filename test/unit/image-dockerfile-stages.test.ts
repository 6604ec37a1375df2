import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../src/image/dockerfile.js';
import { imageUses, usedStages } from '../../src/image/dockerfile-stages.js';

describe('usedStages and imageUses', () => {
  const text = [
    'FROM alpine:3 AS tools', //               1
    'FROM node:20 AS deps', //                 2
    'FROM deps AS build', //                   3
    'COPY --from=tools /bin/x /bin/x', //      4
    'FROM debian:12 AS runtime', //            5
    'COPY --from=build /app /app', //          6
    'COPY --from=nginx:1.27 /etc/nginx /etc/nginx', // 7
    'RUN --mount=from=busybox:1,target=/bb true', // 8
    'FROM scratch AS empty', //                9
    'COPY --from=0 /x /x', //                  10
  ].join('\n');
  const df = parseDockerfile(text);

  it('follows FROM <stage>, COPY --from=<stage> and --from=<index> from the target', () => {
    expect([...usedStages(df, 'runtime')!].sort()).toEqual([0, 1, 2, 3]);
    expect([...usedStages(df, 'deps')!]).toEqual([1]);
    expect([...usedStages(df, 'EMPTY')!].sort()).toEqual([0, 4]);
    expect([...usedStages(df)!].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(usedStages(df, 'nope')).toBeUndefined();
  });

  it('lists images (not stages, not scratch) with the line that pulls them in', () => {
    expect(imageUses(df, usedStages(df, 'runtime')!).map((u) => [u.ref, u.line, u.via])).toEqual([
      ['alpine:3', 1, 'FROM'],
      ['node:20', 2, 'FROM'],
      ['debian:12', 5, 'FROM'],
      ['nginx:1.27', 7, 'COPY --from'],
      ['busybox:1', 8, 'RUN --mount'],
    ]);
    expect(imageUses(df, usedStages(df, 'empty')!).map((u) => u.ref)).toEqual(['alpine:3']);
  });

  it('does not treat a later stage name as a stage reference', () => {
    const d = parseDockerfile('FROM later\nFROM x AS later');
    expect(imageUses(d, usedStages(d)!).map((u) => u.ref)).toEqual(['later', 'x']);
  });
});
