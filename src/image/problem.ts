/**
 * A policy problem found in a Dockerfile or build context. Problems are collected, not thrown one by one, so that a
 * user sees every broken rule in one run instead of fixing them one build at a time.
 */
export interface PolicyProblem {
  /** The file the problem is in, as it should be shown (usually the Dockerfile). */
  file: string;
  /** 1-based line in that file. */
  line: number;
  /** Starts with `file:line:` so it can be printed on its own. */
  message: string;
  hint: string;
}

export function problem(file: string, line: number, what: string, hint: string): PolicyProblem {
  return { file, line, message: `${file}:${line}: ${what}`, hint };
}

/** All problems as one text block: each message followed by its indented hint. */
export function formatProblems(problems: PolicyProblem[]): string {
  return problems.map((p) => `${p.message}\n    hint: ${p.hint}`).join('\n');
}
