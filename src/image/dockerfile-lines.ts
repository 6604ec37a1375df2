/**
 * A Dockerfile's text as logical instructions: the first step of parsing, the one that follows Docker's rules for
 * what a line is (parser directives and the escape character, continuations with comment and blank lines inside,
 * heredoc bodies). Apart from dockerfile.ts because `boxship init` reads instructions without the stage model.
 */

/** One logical instruction: continuation lines joined, comment lines inside it dropped. */
export interface Instruction {
  /** Upper-cased keyword, e.g. "RUN". */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space; heredoc bodies appended after a newline. */
  args: string;
  /** 1-based line of the keyword; problems are reported here. */
  line: number;
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/;

/**
 * Split the text into logical instructions. Parser directives (`# escape=`, `# syntax=`, `# check=`) are read only
 * for the escape character, which changes what a line continuation looks like; otherwise they are comments.
 */
export function splitInstructions(text: string): Instruction[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let escapeChar = '\\';
  let i = 0;
  // Directives must come first; the first non-directive line (even a blank one) ends them, as in Docker.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i] ?? '');
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) escapeChar = m[2];
  }
  const out: Instruction[] = [];
  while (i < lines.length) {
    const first = lines[i] ?? '';
    if (first.trim() === '' || first.trim().startsWith('#')) {
      i++;
      continue;
    }
    const startLine = i + 1;
    let joined = '';
    let current = first;
    for (;;) {
      const trimmed = current.replace(/\s+$/, '');
      i++;
      if (trimmed.endsWith(escapeChar)) {
        joined += trimmed.slice(0, -1);
        // Docker skips comment lines and blank lines inside a continuation rather than ending the instruction.
        while (i < lines.length && /^\s*(#.*)?$/.test(lines[i] ?? '')) i++;
        if (i >= lines.length) break;
        current = lines[i] ?? '';
        continue;
      }
      joined += trimmed;
      break;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(joined);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    let args = m[2]!.trim();
    // Heredocs (`RUN <<EOF`): their bodies are part of the instruction, not new instructions. A `<<` must start a
    // word, and a heredoc whose terminator never comes is not one (e.g. `echo "a <<b"`): nothing is consumed then.
    if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
      for (const d of args.matchAll(/(?:^|\s)<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
        const stripTabs = d[1] === '-';
        const word = d[3]!;
        const body: string[] = [];
        let j = i;
        let closed = false;
        while (j < lines.length) {
          const l = stripTabs ? (lines[j++] ?? '').replace(/^\t+/, '') : (lines[j++] ?? '');
          if (l === word) {
            closed = true;
            break;
          }
          body.push(l);
        }
        if (!closed) continue;
        i = j;
        args += `\n${body.join('\n')}`;
      }
    }
    out.push({ keyword, args, line: startLine });
  }
  return out;
}
