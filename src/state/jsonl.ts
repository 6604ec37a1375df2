/** The state files on a host are JSON-lines logs: appended to with one command, read whole with another. */
import { type Command, script } from '../hosts/command.js';

export function appendJsonLine(why: string, dir: string, file: string, value: unknown): Command {
  return script('write', why, 'mkdir -p "$1" && printf "%s\\n" "$2" >> "$1/$3"', dir, JSON.stringify(value), file);
}

export function readFileCommand(why: string, path: string): Command {
  return script('read', why, 'cat "$1" 2>/dev/null || true', path);
}

/** Parse each line; lines that do not parse (a torn last line) are skipped, not fatal. */
export function parseJsonLines<T>(text: string, valid: (v: T) => boolean = () => true): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as T;
      if (v && valid(v)) out.push(v);
    } catch {
      /* torn or foreign line */
    }
  }
  return out;
}
