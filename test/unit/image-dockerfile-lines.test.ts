import { describe, expect, it } from 'vitest';
import { splitInstructions } from '../../src/image/dockerfile-lines.js';

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
