/**
 * .dockerignore as Docker applies it to a folder: which of the candidate paths are sent. Apart from context.ts
 * (which decides what the candidates are: the commit's tree or the work tree, less the secrets files) because it is
 * a pure rule over path names, Docker's, that the engine does not apply itself to a tar body.
 */
import dockerignoreModule from '@balena/dockerignore';

type Node = { dir: Map<string, Node> } | { file: string };

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The files and folders sent, relative with forward slashes, sorted (a folder before what it holds, as in a tar).
 * `alwaysKept` names paths sent whatever the ignore file says (the Dockerfile, .dockerignore, build.include).
 * An ignored folder is not entered unless the ignore file has exceptions (`!pattern`), which may re-include a file
 * under it, or it holds a path that is always kept; a folder is sent when not ignored, or when something under it is.
 */
export function applyDockerignore(
  candidates: Iterable<{ path: string; dir: boolean }>,
  ignoreText: string,
  alwaysKept: ReadonlySet<string>,
): { files: string[]; dirs: string[] } {
  const patterns = ignoreText
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  // The package is CommonJS typed as an ES default export; its factory is also on `.default`, which both agree on.
  const matcher = dockerignoreModule.default({ ignorecase: false }).add(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith('!'));

  const tree = new Map<string, Node>();
  for (const entry of candidates) {
    const parts = entry.path.split('/');
    let level = tree;
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      if (last && !entry.dir) {
        level.set(part, { file: entry.path });
        break;
      }
      let next = level.get(part);
      if (next === undefined || !('dir' in next)) {
        next = { dir: new Map() };
        level.set(part, next);
      }
      level = next.dir;
    }
  }
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = (level: Map<string, Node>, relDir: string): boolean => {
    let kept = false;
    for (const name of [...level.keys()].sort(byName)) {
      const node = level.get(name)!;
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      const ignored = matcher.ignores(rel) && !alwaysKept.has(rel);
      if ('dir' in node) {
        const holdsKept = [...alwaysKept].some((k) => k.startsWith(`${rel}/`));
        if (ignored && !hasExceptions && !holdsKept) continue;
        const before = dirs.length;
        const hasKept = walk(node.dir, rel);
        if (!ignored || hasKept) {
          dirs.splice(before, 0, rel); // parent before its children, as in a tar
          kept = true;
        }
      } else if (!ignored) {
        files.push(rel);
        kept = true;
      }
    }
    return kept;
  };
  walk(tree, '');
  return { files, dirs };
}
