/**
 * BuildKit progress from `POST /build?version=2`. The engine streams JSON lines; the interesting ones carry
 * `{"id":"moby.buildkit.trace","aux":"<base64>"}`, a protobuf moby.buildkit.v1.StatusResponse (BuildKit's control
 * API) describing steps (vertexes) and their output. This module decodes them into readable events and, at the end,
 * either the image ID or an error that names the failing step and shows its last lines of output.
 */
import { StringDecoder } from 'node:string_decoder';
import protobuf from 'protobufjs';
import { BoxshipError } from '../util/errors.js';
import type { Report } from '../util/events.js';

// The subset of BuildKit's control.proto we read. Field numbers must match BuildKit's; unknown fields (progress
// groups, warning details) are skipped by the decoder, so they need no definition.
const PROTO = `
syntax = "proto3";
package moby.buildkit.v1;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message Vertex {
  string digest = 1; repeated string inputs = 2; string name = 3; bool cached = 4;
  Timestamp started = 5; Timestamp completed = 6; string error = 7;
}
message VertexStatus {
  string ID = 1; string vertex = 2; string name = 3; int64 current = 4; int64 total = 5;
  Timestamp timestamp = 6; Timestamp started = 7; Timestamp completed = 8;
}
message VertexLog { string vertex = 1; Timestamp timestamp = 2; int64 stream = 3; bytes msg = 4; }
message VertexWarning { string vertex = 1; int64 level = 2; bytes short = 3; repeated bytes detail = 4; string url = 5; }
message StatusResponse {
  repeated Vertex vertexes = 1; repeated VertexStatus statuses = 2;
  repeated VertexLog logs = 3; repeated VertexWarning warnings = 4;
}
`;

interface Timestamp {
  seconds: number;
  nanos: number;
}
// Decoded with proto3 defaults left out, so any scalar field may be missing.
export interface Vertex {
  digest: string;
  inputs?: string[];
  name?: string;
  cached?: boolean;
  started?: Timestamp;
  completed?: Timestamp;
  error?: string;
}
interface VertexStatus {
  ID?: string;
  vertex?: string;
  name?: string;
  current?: number;
  total?: number;
}
export interface VertexLog {
  vertex: string;
  stream?: number;
  msg?: Uint8Array;
}
interface VertexWarning {
  vertex: string;
  level?: number;
  short?: Uint8Array;
}
export interface StatusResponse {
  vertexes: Vertex[];
  statuses: VertexStatus[];
  logs: VertexLog[];
  warnings: VertexWarning[];
}

// google.protobuf.Timestamp is a message like any other on the wire, so a local definition with the same field
// numbers decodes it; Timestamp is declared in our package so the .proto text needs no imports.
const statusType = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('moby.buildkit.v1.StatusResponse');

export function decodeStatus(base64: string): StatusResponse {
  const message = statusType.decode(Buffer.from(base64, 'base64'));
  // longs as numbers: seconds since 1970 and byte counts fit easily.
  return statusType.toObject(message, { longs: Number, arrays: true, defaults: false }) as StatusResponse;
}

/** Also exported for tests that build StatusResponse messages. */
export function encodeStatus(status: Partial<StatusResponse>): string {
  return Buffer.from(statusType.encode(statusType.fromObject(status)).finish()).toString('base64');
}

function millis(ts: Timestamp | undefined): number | undefined {
  return ts === undefined ? undefined : Number(ts.seconds) * 1000 + Math.floor(Number(ts.nanos ?? 0) / 1e6);
}

/** How many lines of a step's output are kept and shown when it fails. */
const TAIL_LINES = 20;

interface StepState {
  number: number;
  name: string;
  startedReported: boolean;
  doneReported: boolean;
  error?: string;
  /** Last lines of output, stdout and stderr together. */
  tail: string[];
  /** Per stream (1 stdout, 2 stderr): a line still being written, kept apart so streams do not splice. */
  partial: Map<number, string>;
}

export interface ProgressOptions {
  /** Report every output line as it comes, not only those of a failing step. */
  showLogs?: boolean;
}

/** A message of the /build JSON stream, as the engine sends it. */
export interface BuildMessage {
  id?: string;
  aux?: unknown;
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * BuildKit's error for a failed RUN repeats the whole command ("executor failed running [/bin/sh -c ...]: exit code:
 * 7", or "process \"...\" did not complete successfully: exit code: 7" in newer engines); the step name already shows
 * the command, so only the exit code is kept.
 */
export function shortError(error: string): string {
  const m = /^(?:executor failed running \[[\s\S]*\]|process "[\s\S]*" did not complete successfully): (exit code: \d+)$/.exec(error.trim());
  return m ? m[1]! : error;
}

/** BuildKit cancels steps running beside a failing one; those are not the failure to report. */
function isCancellation(error: string): boolean {
  return /context canceled|operation was canceled|^canceled$/i.test(error.trim());
}

export class BuildkitProgress {
  private readonly steps = new Map<string, StepState>();
  private imageId?: string;
  private engineError?: string;
  private failedStep?: StepState;

  constructor(
    private readonly report: Report,
    private readonly options: ProgressOptions = {},
  ) {}

  /** Feed one message of the /build stream. */
  handle(message: BuildMessage): void {
    if (message.id === 'moby.buildkit.trace' && typeof message.aux === 'string') {
      this.handleStatus(decodeStatus(message.aux));
    } else if (message.id === 'moby.image.id' && message.aux && typeof message.aux === 'object') {
      const id = (message.aux as { ID?: unknown }).ID;
      if (typeof id === 'string') this.imageId = id;
    } else if (message.errorDetail || message.error) {
      this.engineError = message.errorDetail?.message ?? message.error ?? 'unknown error';
    } else if (typeof message.stream === 'string' && message.stream.trim() !== '') {
      this.report({ kind: 'build', message: message.stream.trim() });
    }
  }

  handleStatus(status: StatusResponse): void {
    for (const v of status.vertexes ?? []) this.handleVertex(v);
    for (const log of status.logs ?? []) this.handleLog(log);
    for (const w of status.warnings ?? []) {
      const step = this.steps.get(w.vertex);
      const text = Buffer.from(w.short ?? [])
        .toString('utf8')
        .trim();
      this.report({ kind: 'warning', message: step ? `#${step.number} ${step.name}: ${text}` : text });
    }
  }

  private step(digest: string, name: string): StepState {
    let s = this.steps.get(digest);
    if (!s) {
      s = { number: this.steps.size + 1, name, startedReported: false, doneReported: false, tail: [], partial: new Map() };
      this.steps.set(digest, s);
    }
    if (name) s.name = name;
    return s;
  }

  private handleVertex(v: Vertex): void {
    const s = this.step(v.digest, v.name ?? '');
    const started = millis(v.started);
    const completed = millis(v.completed);
    if (started !== undefined && !s.startedReported && !v.cached && completed === undefined) {
      s.startedReported = true;
      this.report({ kind: 'build', message: `#${s.number} ${s.name}` });
    }
    if (v.error) {
      s.error = v.error;
      s.doneReported = true;
      this.flushPartial(s);
      if (!isCancellation(v.error) && !this.failedStep) this.failedStep = s;
      this.report({ kind: 'build', message: `#${s.number} ERROR ${s.name}: ${shortError(v.error)}` });
      if (!this.options.showLogs) for (const line of s.tail) this.report({ kind: 'build', message: `#${s.number} | ${line}` });
      return;
    }
    if (v.cached && !s.doneReported) {
      s.doneReported = true;
      this.report({ kind: 'build', message: `#${s.number} CACHED ${s.name}` });
    } else if (completed !== undefined && !s.doneReported) {
      s.doneReported = true;
      const seconds = started === undefined ? 0 : Math.max(0, completed - started) / 1000;
      this.report({ kind: 'build', message: `#${s.number} DONE ${seconds.toFixed(1)}s ${s.name}` });
    }
  }

  private handleLog(log: VertexLog): void {
    const s = this.step(log.vertex, '');
    // Output arrives in chunks that need not end at a line break; \r rewrites a line (progress bars): keep the last.
    const stream = log.stream ?? 1;
    const text = (s.partial.get(stream) ?? '') + Buffer.from(log.msg ?? []).toString('utf8');
    const lines = text.split('\n');
    s.partial.set(stream, lines.pop() ?? '');
    for (const raw of lines) this.addLine(s, raw);
  }

  private addLine(s: StepState, raw: string): void {
    const line =
      raw
        .split('\r')
        .filter((p) => p !== '')
        .pop() ?? '';
    s.tail.push(line);
    if (s.tail.length > TAIL_LINES) s.tail.shift();
    if (this.options.showLogs) this.report({ kind: 'build', message: `#${s.number} | ${line}` });
  }

  private flushPartial(s: StepState): void {
    for (const partial of s.partial.values()) if (partial !== '') this.addLine(s, partial);
    s.partial.clear();
  }

  /** The image ID once the stream has ended, or the build failure as an error. */
  result(): { imageId: string } {
    const failed = this.failedStep ?? [...this.steps.values()].find((s) => s.error !== undefined);
    if (failed || this.engineError !== undefined) {
      throw buildError(failed, this.engineError);
    }
    if (this.imageId === undefined) {
      throw new BoxshipError('the build ended without an image ID', { hint: 'check the engine log (journalctl -u docker) and try again' });
    }
    return { imageId: this.imageId };
  }
}

/**
 * An engine on the containerd image store (Docker 24 to at least 26) cannot read a build context uploaded to
 * POST /build without a BuildKit session: its BuildKit worker does not serve the uploaded tar (moby/moby#47717).
 */
const REMOTE_CONTEXT = /load remote build context/;
const REMOTE_CONTEXT_HINT =
  'the Docker engine boxship builds with uses the containerd image store, whose BuildKit cannot read an uploaded build context (moby/moby#47717): build with an engine on the classic store (DOCKER_HOST), or turn off the containerd-snapshotter feature on this one';

function buildError(step: StepState | undefined, engineError: string | undefined): BoxshipError {
  if (!step) {
    return new BoxshipError(`build failed: ${engineError}`, {
      hint: 'a Dockerfile syntax error or a base image the engine cannot find often shows up this way',
    });
  }
  const output = step.tail.length
    ? `\nlast ${step.tail.length} line${step.tail.length === 1 ? '' : 's'} of its output:\n${step.tail.map((l) => `  ${l}`).join('\n')}`
    : '\n(the step printed nothing)';
  return new BoxshipError(`build failed at step ${step.name}: ${shortError(step.error ?? engineError ?? '')}${output}`, {
    hint: REMOTE_CONTEXT.test(step.name) ? REMOTE_CONTEXT_HINT : 'fix the failing step in the Dockerfile (reproduce it with DOCKER_BUILDKIT=1 docker build .)',
  });
}

/**
 * Read the /build response stream to its end, feeding each JSON line to a BuildkitProgress. JSON objects are
 * newline-delimited, but an HTTP chunk can end mid-line, so lines are reassembled here.
 */
export async function followBuild(stream: NodeJS.ReadableStream, report: Report, options: ProgressOptions = {}): Promise<{ imageId: string }> {
  const progress = new BuildkitProgress(report, options);
  // A multi-byte character can be split across chunks; the decoder holds the first half back.
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  const feed = (line: string) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    let message: BuildMessage;
    try {
      message = JSON.parse(trimmed) as BuildMessage;
    } catch {
      report({ kind: 'build', message: trimmed });
      return;
    }
    progress.handle(message);
  };
  for await (const chunk of stream) {
    buffered += typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk));
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      feed(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  }
  feed(buffered + decoder.end());
  return progress.result();
}
