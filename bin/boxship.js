#!/usr/bin/env node
// Runs the compiled CLI (dist/src/cli/main.js). An installed package has only that (package.json "files": no src/,
// no tsx). In a checkout, the build (`npm run build`, which `npm ci` runs via "prepare") is used when it is at least
// as new as every source file; otherwise the TypeScript sources run through tsx (a dev dependency), so a checkout
// always works and a stale build is never used.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
const sources = join(root, 'src');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

if (!existsSync(sources) || (existsSync(compiled) && statSync(compiled).mtimeMs >= newestSource(sources))) {
  await import(compiled);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('error: boxship is not built and tsx is not installed\nhint: run npm ci (or npm run build) in the boxship checkout\n');
    process.exit(2);
  }
  register();
  await import('../src/cli/main.ts');
}
