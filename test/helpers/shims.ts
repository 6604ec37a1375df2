/** A temp folder with stand-in commands (docker, tee…) to put first on PATH, for running remote scripts here. */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Shims {
  dir: string;
  /** The environment with the stand-ins first on PATH. */
  env: NodeJS.ProcessEnv;
  /** What a stand-in wrote to `<dir>/<name>`, or '' when nothing. */
  read(name: string): string;
}

/** Each stand-in is a shell script body; `$DIR` in it is the temp folder. */
export function shims(prefix: string, scripts: Record<string, string>): Shims {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(bin, name), `#!/bin/sh\nDIR=${dir}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return {
    dir,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    read: (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : ''),
  };
}
