/**
 * What the built image really takes from the context and which tools it has: a file the used stages never COPY or
 * ADD, or a lockfile of a tool the image never installs or runs, is not the app's. A non-Node app that installs
 * boxship into a package.json of its own has boxship's package-lock.json in its context, and it is not the app's.
 */
import type { ParsedDockerfile } from './dockerfile.js';

/** A COPY source pattern (Go filepath.Match: *, ?, [...]) as a RegExp over a path relative to the context. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re.replace(/^\.\//, '')}$`);
}

/** Whether one COPY/ADD source brings `rel` in: the file itself, a pattern matching it, or a folder holding it. */
function sourceBrings(source: string, rel: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return false; // ADD https://…: not from the context
  const src = source
    .replace(/^(\.\/)+/, '')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '');
  if (src === '' || src === '.') return true;
  const re = globRegExp(src);
  // The file, or a folder (written or matched by a pattern) above it: COPY src/ . brings src/package-lock.json.
  const parts = rel.split('/');
  return parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
}

/** Whether a COPY/ADD of the build context in a used stage brings `rel` (relative to the context) into the image. */
export function contextFileCopied(df: ParsedDockerfile, stages: ReadonlySet<number>, rel: string): boolean {
  return df.stages
    .filter((s) => stages.has(s.index))
    .some((s) => s.copies.some((c) => c.from === undefined && c.sources.some((src) => sourceBrings(src, rel))));
}

const NODE_TOOL = /(?:^|[\s;&|(`/"'[,])(?:node|nodejs|npm|npx|yarn|yarnpkg|pnpm|pnpx|corepack|bun)(?=$|[\s;&|)`"',\]@])/;

/** A base image of the Node family (node, cimg/node, bitnami/node, …-node), as its FROM expands with the build args. */
function nodeBase(image: string): boolean {
  const name =
    image
      .replace(/[@:][^/]*$/, '')
      .split('/')
      .pop() ?? '';
  return /(?:^|[-_.])node(?:js)?(?:$|[-_.])/.test(name);
}

/**
 * Whether the used stages have Node's tools: a Node base image, or a RUN, CMD or ENTRYPOINT that names node, npm,
 * npx, yarn, pnpm, corepack or bun (an `apt-get install nodejs npm` counts: it installs them).
 */
export function nodeInImage(df: ParsedDockerfile, stages: ReadonlySet<number>): boolean {
  const used = df.stages.filter((s) => stages.has(s.index));
  if (used.some((s) => nodeBase(s.from.image) || s.runs.some((r) => NODE_TOOL.test(r.command)))) return true;
  const starts = df.stages.map((s) => s.from.line);
  const stageAt = (line: number) => starts.filter((l) => l <= line).length - 1;
  return df.instructions.some((ins) => (ins.keyword === 'CMD' || ins.keyword === 'ENTRYPOINT') && stages.has(stageAt(ins.line)) && NODE_TOOL.test(ins.args));
}
