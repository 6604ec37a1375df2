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
  /** Secrets files made with lines from compose (the app's, accessories' own), and those that existed and were left. */
  secretFiles: { created: string[]; kept: string[] };
}

/** Whether a .gitignore's lines already name `file` (at the root or anywhere). */
export function ignores(gitignore: string, file: string): boolean {
  return gitignore.split(/\r?\n/).some((l) => {
    const t = l.trim();
    return t === file || t === `/${file}` || t === `**/${file}`;
  });
}

const secretsHeader = (whose: string) => `# KEY=VALUE, one per line: passed to ${whose} as environment variables. Never commit this file.\n`;

/**
 * `secrets`: lines for secrets files (file -> KEY=VALUE lines, from compose). Each is created 0600 and git-ignored;
 * one that exists is left as it is (and named in `kept`), as is any other file.
 */
export function writeInit(dir: string, configPath: string, text: string, secretsFile: string, secrets: Record<string, string[]> = {}): InitWritten {
  if (existsSync(configPath)) {
    throw new InputError(`${relative(process.cwd(), configPath) || configPath} already exists; boxship init never overwrites it`, {
      hint: 'edit it, or move it away and run boxship init again (or write elsewhere with: boxship -c other.yml init)',
    });
  }
  // 'wx': fail rather than overwrite, even if the file appeared since the check.
  writeFileSync(configPath, text, { flag: 'wx' });
  const secretFiles: InitWritten['secretFiles'] = { created: [], kept: [] };
  let secretsCreated = false;
  const gi = join(dir, '.gitignore');
  let current = existsSync(gi) ? readFileSync(gi, 'utf8') : '';
  let gitignoreChanged = false;
  for (const file of [secretsFile, ...Object.keys(secrets).filter((f) => f !== secretsFile)]) {
    const path = join(dir, file);
    const lines = secrets[file] ?? [];
    if (!existsSync(path)) {
      writeFileSync(path, `${secretsHeader(file === secretsFile ? 'the app' : 'the accessory')}${lines.map((l) => `${l}\n`).join('')}`, {
        mode: 0o600,
        flag: 'wx',
      });
      if (file === secretsFile) secretsCreated = true;
      if (lines.length) secretFiles.created.push(file);
    } else if (lines.length) secretFiles.kept.push(file);
    if (!ignores(current, file)) {
      const add = `${current && !current.endsWith('\n') ? '\n' : ''}# boxship: secret values, never in git or an image\n${file}\n`;
      appendFileSync(gi, add);
      current += add;
      gitignoreChanged = true;
    }
  }
  return { config: configPath, gitignoreChanged, secretsCreated, secretFiles };
}
