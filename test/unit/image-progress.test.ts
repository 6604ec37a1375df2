import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BuildkitProgress, decodeStatus, encodeStatus, followBuild, shortError, type StatusResponse } from '../../src/image/buildkit-progress.js';
import { BoxshipError } from '../../src/util/errors.js';
import type { ProgressEvent } from '../../src/util/events.js';

const ts = (seconds: number, nanos = 0) => ({ seconds, nanos });
const trace = (status: Partial<StatusResponse>) => ({ id: 'moby.buildkit.trace', aux: encodeStatus(status) });
const log = (vertex: string, text: string) => ({ vertex, stream: 1, msg: Buffer.from(text) });

function collect() {
  const events: ProgressEvent[] = [];
  return { events, report: (e: ProgressEvent) => events.push(e), messages: () => events.map((e) => ('message' in e ? e.message : '')) };
}

describe('decodeStatus', () => {
  it('round-trips the fields boxship reads, with numbers for int64', () => {
    const s = decodeStatus(
      encodeStatus({
        vertexes: [{ digest: 'sha256:1', inputs: ['sha256:0'], name: '[1/2] RUN x', cached: false, started: ts(100, 5e8), completed: ts(101), error: '' }],
        logs: [log('sha256:1', 'hi\n')],
      }),
    );
    expect(s.vertexes[0]).toMatchObject({ digest: 'sha256:1', inputs: ['sha256:0'], name: '[1/2] RUN x', started: { seconds: 100, nanos: 5e8 } });
    expect(Buffer.from(s.logs[0]!.msg!).toString()).toBe('hi\n');
    expect(s.logs[0]!.stream).toBe(1);
  });
});

describe('BuildkitProgress', () => {
  it('reports started, cached and done steps with durations, and returns the image ID', () => {
    const c = collect();
    const p = new BuildkitProgress(c.report);
    p.handle(trace({ vertexes: [{ digest: 'a', name: '[1/2] FROM docker.io/library/debian:bookworm-slim', cached: true, started: ts(1), completed: ts(1) }] }));
    p.handle(trace({ vertexes: [{ digest: 'b', name: '[2/2] RUN make', started: ts(10) }] }));
    p.handle(trace({ logs: [log('b', 'compiling\n')] }));
    // BuildKit repeats a vertex when it changes; started must not be reported twice.
    p.handle(trace({ vertexes: [{ digest: 'b', name: '[2/2] RUN make', started: ts(10) }] }));
    p.handle(trace({ vertexes: [{ digest: 'b', name: '[2/2] RUN make', started: ts(10), completed: ts(12, 340_000_000) }] }));
    p.handle({ id: 'moby.image.id', aux: { ID: 'sha256:feed' } });
    expect(c.messages()).toEqual(['#1 CACHED [1/2] FROM docker.io/library/debian:bookworm-slim', '#2 [2/2] RUN make', '#2 DONE 2.3s [2/2] RUN make']);
    expect(p.result()).toEqual({ imageId: 'sha256:feed' });
  });

  it('shows every log line with showLogs', () => {
    const c = collect();
    const p = new BuildkitProgress(c.report, { showLogs: true });
    p.handle(trace({ vertexes: [{ digest: 'b', name: 'RUN x', started: ts(1) }], logs: [log('b', 'one\ntw')] }));
    p.handle(trace({ logs: [{ vertex: 'b', stream: 2, msg: Buffer.from('err\n') }] })); // stderr does not splice into stdout's line
    p.handle(trace({ logs: [log('b', 'o\n50%\r100%\n')] }));
    expect(c.messages()).toEqual(['#1 RUN x', '#1 | one', '#1 | err', '#1 | two', '#1 | 100%']);
  });

  it('fails with the failing step name and the last 20 lines of its output, ignoring cancelled siblings', () => {
    const c = collect();
    const p = new BuildkitProgress(c.report);
    p.handle(
      trace({
        vertexes: [
          { digest: 'x', name: '[a 2/3] RUN ./configure', started: ts(1) },
          { digest: 'y', name: '[b 1/2] RUN sleep 9', started: ts(1) },
        ],
      }),
    );
    const output = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    p.handle(trace({ logs: [log('x', output.slice(0, 50)), log('x', output.slice(50))] })); // last line has no newline
    p.handle(trace({ vertexes: [{ digest: 'y', name: '[b 1/2] RUN sleep 9', started: ts(1), completed: ts(2), error: 'context canceled' }] }));
    p.handle(
      trace({
        vertexes: [
          {
            digest: 'x',
            name: '[a 2/3] RUN ./configure',
            started: ts(1),
            completed: ts(2),
            error: 'process "/bin/sh -c ./configure" did not complete successfully: exit code: 2',
          },
        ],
      }),
    );
    p.handle({ errorDetail: { message: 'executor failed' }, error: 'executor failed' });
    let err: unknown;
    try {
      p.result();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BoxshipError);
    const message = (err as Error).message;
    expect(message).toContain('build failed at step [a 2/3] RUN ./configure: exit code: 2\n');
    expect(message).toContain('last 20 lines of its output:\n  line 11\n');
    expect(message).toMatch(/ {2}line 30$/);
    expect(message).not.toContain('line 10\n');
    expect(message).not.toContain('sleep 9');
    // The log lines of the failing step are reported too, after its error.
    expect(c.messages()).toContain('#1 | line 30');
    expect(c.messages()).not.toContain('#1 | line 10');
  });

  it('fails with the engine error when no step failed (e.g. a Dockerfile syntax error)', () => {
    const p = new BuildkitProgress(() => {});
    p.handle({ errorDetail: { message: 'dockerfile parse error line 3: unknown instruction: RUNN' } });
    expect(() => p.result()).toThrow('build failed: dockerfile parse error line 3: unknown instruction: RUNN');
  });

  it('explains the uploaded-context failure of a containerd-store engine', () => {
    const p = new BuildkitProgress(() => {});
    p.handle(
      trace({
        vertexes: [
          {
            digest: 'c',
            name: '[internal] load remote build context',
            started: ts(1),
            completed: ts(1),
            error: 'Get "http://build-context-x": dial tcp: lookup build-context-x: no such host',
          },
        ],
      }),
    );
    let err: unknown;
    try {
      p.result();
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toMatch(/^build failed at step \[internal\] load remote build context/);
    expect((err as { hint?: string }).hint).toContain('moby/moby#47717');
  });

  it('fails when the stream ends without an image ID', () => {
    expect(() => new BuildkitProgress(() => {}).result()).toThrow(/without an image ID/);
  });
});

describe('shortError', () => {
  it('keeps only the exit code of a failed RUN, and any other error whole', () => {
    expect(shortError('executor failed running [/bin/sh -c echo a; exit 3]: exit code: 3')).toBe('exit code: 3');
    expect(shortError('process "/bin/sh -c false" did not complete successfully: exit code: 1')).toBe('exit code: 1');
    expect(shortError('failed to compute cache key: "/nope" not found')).toBe('failed to compute cache key: "/nope" not found');
  });
});

describe('followBuild', () => {
  it('reassembles JSON lines split across chunks', async () => {
    const stream = new PassThrough();
    const c = collect();
    const done = followBuild(stream, c.report);
    const text =
      JSON.stringify(trace({ vertexes: [{ digest: 'a', name: 'RUN é', cached: true, started: ts(1), completed: ts(1) }] })) +
      '\r\n' +
      JSON.stringify({ id: 'moby.image.id', aux: { ID: 'sha256:abc' } }) +
      '\r\n';
    const bytes = Buffer.from(text);
    // Split inside the two-byte "é" as well as inside JSON.
    const cut = bytes.indexOf(Buffer.from('é')) + 1;
    stream.write(bytes.subarray(0, cut));
    stream.write(bytes.subarray(cut, cut + 7));
    stream.end(bytes.subarray(cut + 7));
    await expect(done).resolves.toEqual({ imageId: 'sha256:abc' });
    expect(c.messages()).toEqual(['#1 CACHED RUN é']);
  });
});
