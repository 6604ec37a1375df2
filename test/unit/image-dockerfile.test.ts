import { describe, expect, it } from 'vitest';
import { expandVars, imageUses, parseDockerfile, splitInstructions, usedStages } from '../../src/image/dockerfile.js';

describe('splitInstructions', () => {
  it('joins continuations, skips comments and blank lines inside them, and keeps the first line number', () => {
    const text = [
      '# syntax-like comment',
      '',
      'FROM debian:bookworm-slim',
      'RUN apt-get update && \\',
      '    # a comment inside the continuation',
      '',
      '    apt-get install -y curl   \\   ',
      '    && true',
      'CMD ["x"]',
    ].join('\n');
    const ins = splitInstructions(text);
    expect(ins.map((i) => [i.keyword, i.line])).toEqual([
      ['FROM', 3],
      ['RUN', 4],
      ['CMD', 9],
    ]);
    expect(ins[1]!.args).toBe('apt-get update &&     apt-get install -y curl       && true');
  });

  it('ignores parser directives but honours the escape character', () => {
    const text = ['# escape=`', '# check=skip=all', 'FROM scratch', 'RUN a `', '  b', 'RUN c \\', 'COPY x y'].join('\n');
    const ins = splitInstructions(text);
    expect(ins.map((i) => [i.keyword, i.line, i.args])).toEqual([
      ['FROM', 3, 'scratch'],
      ['RUN', 4, 'a   b'],
      ['RUN', 6, 'c \\'],
      ['COPY', 7, 'x y'],
    ]);
  });

  it('stops reading directives at the first ordinary line', () => {
    const ins = splitInstructions(['# a comment', '# escape=`', 'FROM x', 'RUN a `', 'RUN b'].join('\n'));
    expect(ins.map((i) => i.keyword)).toEqual(['FROM', 'RUN', 'RUN']);
  });

  it('keeps heredoc bodies inside their instruction', () => {
    const text = ['FROM x', 'RUN <<EOF', 'npm install', 'FROM nope', 'EOF', 'RUN echo after'].join('\n');
    const ins = splitInstructions(text);
    expect(ins.map((i) => [i.keyword, i.line])).toEqual([
      ['FROM', 1],
      ['RUN', 2],
      ['RUN', 6],
    ]);
    expect(ins[1]!.args).toContain('npm install');
  });

  it('does not take an unterminated or quoted << for a heredoc', () => {
    const ins = splitInstructions(['FROM x', 'RUN echo "a<<b" <<NEVER', 'RUN npm ci'].join('\n'));
    expect(ins.map((i) => [i.keyword, i.line])).toEqual([
      ['FROM', 1],
      ['RUN', 2],
      ['RUN', 3],
    ]);
  });

  it('handles CRLF line endings', () => {
    expect(splitInstructions('FROM a\r\nRUN b \\\r\n c\r\n').map((i) => i.args)).toEqual(['a', 'b  c']);
  });
});

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
