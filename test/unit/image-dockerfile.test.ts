import { describe, expect, it } from 'vitest';
import { expandVars, parseDockerfile } from '../../src/image/dockerfile.js';

describe('expandVars', () => {
  const vars = { A: 'aa', EMPTY: '', B: undefined };
  it.each([
    ['$A', 'aa'],
    ['${A}', 'aa'],
    ['x${A}y$A', 'xaayaa'],
    ['${B:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${A:-def}', 'aa'],
    ['${A:+alt}', 'alt'],
    ['${B:+alt}', ''],
    ['${B:-${A}-x}', 'aa-x'],
    ['$UNSET', ''],
    ['\\$A', '$A'],
    ['cost$', 'cost$'],
  ])('%s -> %s', (word, expected) => {
    expect(expandVars(word, vars)).toBe(expected);
  });
});

describe('parseDockerfile', () => {
  const text = [
    'ARG NODE=20', //                                  1
    'ARG BASE_REG', //                                 2
    'FROM --platform=$BUILDPLATFORM node:${NODE}-bookworm-slim AS Deps', // 3
    'ARG STAGE_ONLY=1', //                             4
    'COPY package.json package-lock.json ./', //       5
    'RUN --mount=type=cache,target=/root/.npm npm ci', // 6
    'FROM ${BASE_REG:-docker.io/library/}debian:bookworm-slim AS runtime', // 7
    'COPY --from=deps --chown=1000:1000 /app/node_modules ./node_modules', // 8
    'COPY ["a b.txt", "/dst/"]', //                    9
    'RUN ["sh", "-c", "echo hi"]', //                  10
    'FROM deps AS test', //                            11
    'RUN npm test', //                                 12
  ].join('\n');

  it('substitutes global ARG defaults and build args into FROM, with line numbers and stage names', () => {
    const df = parseDockerfile(text);
    expect(df.globalArgs).toEqual([
      { name: 'NODE', default: '20', line: 1 },
      { name: 'BASE_REG', default: undefined, line: 2 },
    ]);
    expect(df.stages.map((s) => [s.index, s.name, s.from.image, s.from.line])).toEqual([
      [0, 'deps', 'node:20-bookworm-slim', 3],
      [1, 'runtime', 'docker.io/library/debian:bookworm-slim', 7],
      [2, 'test', 'deps', 11],
    ]);
    expect(df.stages[0]!.from.raw).toBe('node:${NODE}-bookworm-slim');
    expect(df.stages[0]!.from.platform).toMatch(/^linux\//);
    const withArgs = parseDockerfile(text, { NODE: '22', BASE_REG: 'reg.example:5000/', STAGE_ONLY: 'x' });
    expect(withArgs.stages.map((s) => s.from.image)).toEqual(['node:22-bookworm-slim', 'reg.example:5000/debian:bookworm-slim', 'deps']);
  });

  it('does not let an undeclared build arg or a stage ARG reach FROM', () => {
    const df = parseDockerfile('FROM img:${TAG:-1}\nARG TAG=2\nFROM img:$TAG', { OTHER: 'x' });
    expect(df.stages.map((s) => s.from.image)).toEqual(['img:1', 'img:']);
    expect(parseDockerfile('FROM img:${TAG:-1}', { TAG: '9' }).stages[0]!.from.image).toBe('img:1');
  });

  it('records RUN commands and COPY/ADD sources per stage', () => {
    const df = parseDockerfile(text);
    expect(df.stages[0]!.runs).toEqual([{ line: 6, command: 'npm ci', mountFroms: [] }]);
    expect(df.stages[0]!.copies).toEqual([{ line: 5, keyword: 'COPY', from: undefined, sources: ['package.json', 'package-lock.json'], dest: './' }]);
    expect(df.stages[1]!.copies).toEqual([
      { line: 8, keyword: 'COPY', from: 'deps', sources: ['/app/node_modules'], dest: './node_modules' },
      { line: 9, keyword: 'COPY', from: undefined, sources: ['a b.txt'], dest: '/dst/' },
    ]);
    expect(df.stages[1]!.runs).toEqual([{ line: 10, command: 'sh -c echo hi', mountFroms: [] }]);
    expect(df.stages[2]!.runs.map((r) => r.command)).toEqual(['npm test']);
  });

  it('records RUN --mount from= and ADD', () => {
    const df = parseDockerfile(
      'FROM a AS one\nFROM b\nRUN --mount=type=bind,from=one,target=/x --mount=type=cache,target=/c make\nADD --chown=1 https://x/y.tgz /y',
    );
    expect(df.stages[1]!.runs[0]).toEqual({ line: 3, command: 'make', mountFroms: ['one'] });
    expect(df.stages[1]!.copies[0]).toMatchObject({ keyword: 'ADD', sources: ['https://x/y.tgz'], dest: '/y' });
  });
});
