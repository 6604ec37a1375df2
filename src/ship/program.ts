/**
 * A compressor that is a local program (zstd, igzip): the bytes piped through its stdin and stdout, with
 * backpressure both ways, and whether this machine has the program (asked once per run).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { Compressor } from './compressor.js';
import { withDetail } from '../util/sentence.js';

const found = new Map<string, boolean>();

/** Whether `program --version` runs and exits 0 here (checked once per program). */
export function hasProgram(program: string): boolean {
  let ok = found.get(program);
  if (ok === undefined) {
    try {
      ok = spawnSync(program, ['--version'], { stdio: 'ignore' }).status === 0;
    } catch {
      ok = false;
    }
    found.set(program, ok);
  }
  return ok;
}

/** `program args…` compressing stdin to stdout; `sink` gets its output in order, one chunk at a time. */
export function programCompressor(program: string, args: string[], sink: (chunk: Buffer) => Promise<void> | void): Compressor {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  let sinking = Promise.resolve();
  let failed: Error | undefined;
  child.stdout.on('data', (c: Buffer) => {
    child.stdout.pause();
    sinking = sinking
      .then(() => sink(c))
      .then(
        () => void child.stdout.resume(),
        (e: Error) => {
          failed = e;
          child.kill();
        },
      );
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(failed ?? new Error(withDetail(`${program} exited ${code}`, err)))));
  });
  exited.catch(() => {});
  child.stdin.on('error', () => {});
  return {
    write(chunk) {
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        if (child.stdin.write(chunk)) return resolve();
        const onDrain = () => {
          child.removeListener('close', onClose);
          resolve();
        };
        const onClose = () => reject(failed ?? new Error(withDetail(`${program} ended early`, err)));
        child.stdin.once('drain', onDrain);
        child.once('close', onClose);
      });
    },
    async end() {
      child.stdin.end();
      await exited;
      await sinking;
      if (failed) throw failed;
    },
    abort() {
      child.kill();
    },
  };
}
