/**
 * `--json`: stdout carries exactly one JSON document and nothing else. While a command runs in JSON mode, every other
 * write to stdout (listr2 progress, human summaries, helpers shared with the human mode such as reportOutcome) goes to
 * stderr instead, so `boxship release --json | jq` always parses. Installed once per run, before the command's action.
 */
type Write = typeof process.stdout.write;

let realWrite: Write | undefined;

/** From now on stdout writes go to stderr; only printJson reaches stdout. Idempotent. */
export function divertStdoutToStderr(): void {
  if (realWrite) return;
  realWrite = process.stdout.write.bind(process.stdout) as Write;
  // process.stderr.write is already redacting (see redactStream in main.ts).
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => (process.stderr.write as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest)) as Write;
}

/** The one JSON document of the run, on the real stdout (pretty-printed, newline-terminated). */
export function printJson(value: unknown): void {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  (realWrite ?? (process.stdout.write.bind(process.stdout) as Write))(text);
}
