/**
 * What a build of a Dockerfile pulls in: which stages a target needs (through FROM, COPY --from and RUN --mount
 * from=) and which images, not stages, those stages use. The pinning policy (pinning.ts) judges exactly these uses;
 * apart from the parser (dockerfile.ts) because it resolves names across stages as BuildKit does, after parsing.
 */
import type { ParsedDockerfile } from './dockerfile.js';

type Stage = ParsedDockerfile['stages'][number];

/** Where an image (not a stage, not scratch) is pulled into the build. */
export interface ImageUse {
  /** The reference after ARG substitution. */
  ref: string;
  /** As written in the Dockerfile, before substitution (FROM only; otherwise same as ref). */
  written: string;
  line: number;
  via: 'FROM' | 'COPY --from' | 'RUN --mount';
  stage: number;
  /** `FROM --platform=…` (expanded): the platform this use of the image is for. */
  platform?: string;
}

/**
 * The stage a reference names, as BuildKit resolves it: a name of an earlier stage (case-insensitive), or for
 * --from a numeric index of an earlier stage. Anything else is an image.
 */
function stageNamed(df: ParsedDockerfile, ref: string, before: number, allowIndex: boolean): Stage | undefined {
  if (allowIndex && /^\d+$/.test(ref)) {
    const idx = Number(ref);
    return idx < before ? df.stages[idx] : undefined;
  }
  const lower = ref.toLowerCase();
  for (let i = before - 1; i >= 0; i--) if (df.stages[i]!.name === lower) return df.stages[i];
  return undefined;
}

/**
 * Indices of the stages a build of `target` needs: the target and everything it reaches through FROM <stage>,
 * COPY --from=<stage> and RUN --mount from=<stage>. Without a target: every stage (stricter than BuildKit, which
 * builds only what the last stage needs, so that a later `--target` cannot bring an unchecked stage in).
 * Returns undefined when the target names no stage.
 */
export function usedStages(df: ParsedDockerfile, target?: string): Set<number> | undefined {
  if (target === undefined || target === '') return new Set(df.stages.map((s) => s.index));
  const start = df.stages.find((s) => s.name === target.toLowerCase());
  if (!start) return undefined;
  const used = new Set<number>();
  const queue = [start.index];
  while (queue.length > 0) {
    const idx = queue.pop()!;
    if (used.has(idx)) continue;
    used.add(idx);
    const stage = df.stages[idx]!;
    const deps = [
      stageNamed(df, stage.from.image, idx, false),
      ...stage.copies.map((c) => (c.from === undefined ? undefined : stageNamed(df, c.from, idx, true))),
      ...stage.runs.flatMap((r) => r.mountFroms.map((f) => stageNamed(df, f, idx, true))),
    ];
    for (const d of deps) if (d) queue.push(d.index);
  }
  return used;
}

/** Every image (not a stage, not scratch) the given stages pull in, in Dockerfile order. */
export function imageUses(df: ParsedDockerfile, stages: Set<number>): ImageUse[] {
  const uses: ImageUse[] = [];
  for (const stage of df.stages) {
    if (!stages.has(stage.index)) continue;
    const add = (ref: string, line: number, via: ImageUse['via'], allowIndex: boolean, written = ref, platform?: string) => {
      if (ref.toLowerCase() === 'scratch' || stageNamed(df, ref, stage.index, allowIndex)) return;
      uses.push({ ref, written, line, via, stage: stage.index, ...(platform ? { platform } : {}) });
    };
    add(stage.from.image, stage.from.line, 'FROM', false, stage.from.raw, stage.from.platform);
    for (const c of stage.copies) if (c.from !== undefined) add(c.from, c.line, 'COPY --from', true);
    for (const r of stage.runs) for (const f of r.mountFroms) add(f, r.line, 'RUN --mount', true);
  }
  return uses.sort((a, b) => a.line - b.line);
}
