/** Writing what `boxship init` made: the config (never over an existing file), the secrets file, .gitignore. */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { InputError } from '../util/errors.js';

export interface InitWritten {
  config: string;
  /** .gitignore got the secrets file added. */
  gitignoreChanged: boolean;
  /** An empty secrets file was created (0600). */
  secretsCreated: boolean;
}

/** Whether a .gitignore's lines already name `file` (at the root or anywhere). */
export function ignores(gitignore: string, file: string): boolean {
  return gitignore.split(/\r?\n/).some((l) => {
    const t = l.trim();
    return t === file || t === `/${file}` || t === `**/${file}`;
  });
}

export function writeInit(dir: string, configPath: string, text: string, secretsFile: string): InitWritten {
  if (existsSync(configPath)) {
    throw new InputError(`${relative(process.cwd(), configPath) || configPath} already exists; boxship init never overwrites it`, {
      hint: 'edit it, or move it away and run boxship init again (or write elsewhere with: boxship -c other.yml init)',
    });
  }
  // 'wx': fail rather than overwrite, even if the file appeared since the check.
  writeFileSync(configPath, text, { flag: 'wx' });
  const secretsPath = join(dir, secretsFile);
  let secretsCreated = false;
  if (!existsSync(secretsPath)) {
    writeFileSync(secretsPath, '# KEY=VALUE, one per line: passed to the app as environment variables. Never commit this file.\n', { mode: 0o600, flag: 'wx' });
    secretsCreated = true;
  }
  const gi = join(dir, '.gitignore');
  const current = existsSync(gi) ? readFileSync(gi, 'utf8') : '';
  let gitignoreChanged = false;
  if (!ignores(current, secretsFile)) {
    appendFileSync(gi, `${current && !current.endsWith('\n') ? '\n' : ''}# boxship: secret values, never in git or an image\n${secretsFile}\n`);
    gitignoreChanged = true;
  }
  return { config: configPath, gitignoreChanged, secretsCreated };
}
