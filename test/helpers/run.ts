/** Runs the real boxship CLI as a user would, and commands inside the simulated hosts for assertions. */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { BOXSHIP_BIN } from './paths.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; with `timeoutMs`, a run past it is killed and resolves with code -1 and its output so far, not a test timeout. */
export function boxship(args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BOXSHIP_BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, CI: 'true', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr: timedOut ? `${stderr}\n(killed after ${opts.timeoutMs} ms)` : stderr });
    });
  });
}

/** The JSON document a `--json` command printed (listr2's plain renderer may print lines before it). */
/** Runs boxship and returns its wall time in seconds; throws with its output if it fails (the benches' step). */
export async function timedBoxship(dir: string, args: string[]): Promise<number> {
  const t0 = Date.now();
  const r = await boxship(args, { cwd: dir });
  if (r.code !== 0) throw new Error(`boxship ${args.join(' ')} exited ${r.code}:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
  return (Date.now() - t0) / 1000;
}

export function jsonOutput<T>(r: RunResult): T {
  const start = r.stdout.search(/^[[{]/m);
  if (start < 0) throw new Error(`no JSON in output (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.slice(start)) as T;
}

const execFileP = promisify(execFile);

/**
 * A shell command inside a simulated host container (the test's own view, not boxship's). With `ms`, the call is killed past it: a call into a host that is restarting can block (its
 * dockerd serves the API only after restoring its containers).
 */
export async function onHost(container: string, sh: string, ms?: number): Promise<string> {
  const { stdout } = await execFileP('docker', ['exec', container, 'sh', '-c', sh], { maxBuffer: 64 * 1024 * 1024, timeout: ms, killSignal: 'SIGKILL' });
  return stdout;
}

/**
 * Restarts a test host's container (a reboot of the simulated server) and waits, up to `ms`, until `ready` holds for
 * it. Every call into the host is bounded, so a host that does not come back fails with its engine's log, not a hang.
 */
export async function rebootHost(container: string, ready: () => Promise<boolean>, ms = 150_000): Promise<number> {
  const started = Date.now();
  await execFileP('docker', ['restart', '-t', '2', container], { timeout: 120_000 });
  while (Date.now() - started < ms) {
    if (await ready().catch(() => false)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 500));
  }
  const diag = await onHost(container, 'tail -n 40 /var/log/dockerd.log; timeout 10 docker ps -a', 30_000).catch(
    (e: Error) => `(no diagnostics: ${e.message})`,
  );
  throw new Error(`${container} was not ready ${Math.round(ms / 1000)}s after its restart; its dockerd log and containers:\n${diag}`);
}

export function onHostSync(container: string, sh: string): string {
  return execFileSync('docker', ['exec', container, 'sh', '-c', sh], { encoding: 'utf8' });
}

/** Wipes a host's containers, images and boxship state, so a test starts from an empty server. */
export async function wipeHost(container: string): Promise<void> {
  await onHost(
    container,
    // The edge's volumes too: its routes and certificates belong to the services just removed.
    'docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker image prune -af >/dev/null; docker network prune -f >/dev/null; docker volume rm boxship-edge boxship-edge-data >/dev/null 2>&1; rm -rf /root/.boxship; true',
  );
}
