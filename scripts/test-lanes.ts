/**
 * `npm test`: the unit project, then every integration file spread over parallel lanes, then a summary.
 *
 * The integration files share a slot's hosts, so one vitest run takes them one at a time; on their own they take
 * about half an hour, mostly waiting on engines and drains. A lane is such a run with hosts, key, known_hosts and
 * pebble of its own (BOXSHIP_TEST_LANE, test/helpers/paths.ts): lanes never share a host, so their files may run side
 * by side. Files go to lanes longest first, each to the lane with the least work so far (LPT), by the seconds in
 * test/lanes.json (a file not there counts DEFAULT_SECONDS); the Caddy 2.11 pass (the proxy suites again on Caddy
 * 2.11's image) is three more jobs. The summary prints each file's seconds of this run, to refresh that table by hand.
 *
 *   npm test                         BOXSHIP_TEST_LANES lanes (default 2)
 *   BOXSHIP_TEST_LANES=1 npm test    one lane: the old serial run, on lane 1's hosts
 *   npm test -- rollout edge         only integration files whose name contains one of the words (no unit run)
 *
 * Each lane's output is printed with a `[lane N]` prefix and kept whole in .boxship-test/lanes/N/test.log.
 * Exit code: 0 when every job passed, else 1 (the summary names the failed files and their lanes' logs).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stripVTControlCharacters } from 'node:util';
import { candidatePorts, machineView } from '../test/helpers/global-setup.js';
import { chooseLaneSlots, MAX_SLOT } from '../test/helpers/host-slots.js';
import { REPO } from '../test/helpers/paths.js';

const DEFAULT_SECONDS = 60;
const CADDY_211 = { BOXSHIP_TEST_PROXY_IMAGE: 'boxship-proxy:caddy-2.11.4' };
const CADDY_211_FILES = ['rollout', 'proxy', 'settings-change'];
const VITEST = join(REPO, 'node_modules', 'vitest', 'vitest.mjs');

interface Job {
  /** The file's name without test/integration/ and .test.ts, and ` (caddy 2.11)` for that pass. */
  name: string;
  file: string;
  env: Record<string, string>;
  seconds: number;
}

const lanesWanted = Number(process.env.BOXSHIP_TEST_LANES ?? 2);
if (!Number.isInteger(lanesWanted) || lanesWanted < 1 || lanesWanted > 8) {
  console.error(`BOXSHIP_TEST_LANES: want 1 to 8 lanes, got ${JSON.stringify(process.env.BOXSHIP_TEST_LANES)}`);
  process.exit(2);
}
const filters = process.argv.slice(2);
const laneDir = (lane: number) => join(REPO, '.boxship-test', 'lanes', String(lane));

function jobs(): Job[] {
  const table = JSON.parse(readFileSync(join(REPO, 'test', 'lanes.json'), 'utf8')) as Record<string, number>;
  const files = readdirSync(join(REPO, 'test', 'integration'))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => f.slice(0, -'.test.ts'.length));
  const all: Job[] = [];
  for (const f of files) all.push({ name: f, file: `test/integration/${f}.test.ts`, env: {}, seconds: table[f] ?? DEFAULT_SECONDS });
  for (const f of CADDY_211_FILES) {
    const name = `${f} (caddy 2.11)`;
    all.push({ name, file: `test/integration/${f}.test.ts`, env: CADDY_211, seconds: table[name] ?? DEFAULT_SECONDS });
  }
  return filters.length ? all.filter((j) => filters.some((w) => j.name.includes(w))) : all;
}

/** Longest first, each to the lane with the least work so far; within a lane, plain files before the Caddy 2.11 pass. */
function spread(list: Job[], lanes: number): Job[][] {
  const out: Job[][] = Array.from({ length: lanes }, () => []);
  const load = new Array<number>(lanes).fill(0);
  for (const j of [...list].sort((a, b) => b.seconds - a.seconds)) {
    const i = load.indexOf(Math.min(...load));
    out[i]!.push(j);
    load[i]! += j.seconds;
  }
  return out.filter((l) => l.length);
}

const children = new Set<ChildProcess>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const c of children) c.kill(sig);
    process.exit(130);
  });
}

/** Runs a command with its lines prefixed on our stdout and kept in the lane's log; resolves its exit code. */
function run(
  prefix: string,
  log: NodeJS.WritableStream | undefined,
  args: string[],
  env: Record<string, string>,
  onLine?: (line: string) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        process.stdout.write(`${prefix}${line}\n`);
        log?.write(`${line}\n`);
        onLine?.(line);
      });
    }
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

interface FileResult {
  name: string;
  seconds: number;
  passed: boolean;
}

/**
 * A file's wall time as the default reporter prints it (`✓ |integration| test/integration/x.test.ts (3 tests) 4435ms`):
 * hooks included, unlike the JSON report's start and end, which cover the tests alone.
 */
const REPORTED = /\|integration\| test\/integration\/(\S+)\.test\.ts \(.*\) (\d+)ms$/;

/** Per-file results of one vitest run, from its JSON reporter's file, with the wall times `reported` saw. */
function fileResults(jsonFile: string, suffix: string, reported: Map<string, number>): FileResult[] {
  if (!existsSync(jsonFile)) return [];
  const doc = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
    testResults: { name: string; status: string; startTime: number; endTime: number }[];
  };
  return doc.testResults.map((t) => {
    const file = t.name.replace(/^.*test\/integration\//, '').replace(/\.test\.ts$/, '');
    return { name: `${file}${suffix}`, seconds: Math.round((reported.get(file) ?? t.endTime - t.startTime) / 1000), passed: t.status === 'passed' };
  });
}

async function runLane(lane: number, slotIndex: number, list: Job[]): Promise<{ code: number; results: FileResult[]; expected: Job[] }> {
  mkdirSync(laneDir(lane), { recursive: true });
  const log = createWriteStream(join(laneDir(lane), 'test.log'));
  const env = { BOXSHIP_TEST_LANE: String(lane), BOXSHIP_TEST_SLOT: String(slotIndex) };
  const groups = [list.filter((j) => !j.env.BOXSHIP_TEST_PROXY_IMAGE), list.filter((j) => j.env.BOXSHIP_TEST_PROXY_IMAGE)];
  let code = 0;
  const results: FileResult[] = [];
  for (const [i, group] of groups.entries()) {
    if (!group.length) continue;
    const json = join(laneDir(lane), `results-${i}.json`);
    const args = [VITEST, 'run', '--project', 'integration', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`, ...group.map((j) => j.file)];
    const reported = new Map<string, number>();
    const c = await run(`[lane ${lane}] `, log, args, { ...env, ...group[0]!.env }, (line) => {
      // vitest colours its lines even into a pipe under CI; the codes would hide the file name from the pattern.
      const m = REPORTED.exec(stripVTControlCharacters(line));
      if (m) reported.set(m[1]!, Number(m[2]));
    });
    results.push(...fileResults(json, i === 1 ? ' (caddy 2.11)' : '', reported));
    if (c !== 0) code = c;
  }
  log.end();
  return { code, results, expected: list };
}

const t0 = Date.now();
const elapsed = () => `${Math.round((Date.now() - t0) / 1000)}s`;

if (!filters.length) {
  console.log('== unit');
  const unit = await run('', undefined, [VITEST, 'run', '--project', 'unit'], {});
  if (unit !== 0) {
    console.error(`== unit tests failed (exit ${unit}): the integration lanes were not started`);
    process.exit(1);
  }
}

const list = jobs();
if (!list.length) {
  console.error(`no integration file matches ${filters.join(' ')}`);
  process.exit(2);
}
const lanes = spread(list, lanesWanted);

// Once, before the lanes start: the host images (a cache hit when nothing changed) and their network, which two lanes
// starting at once would otherwise both build or create.
execFileSync('bash', ['scripts/test-hosts.sh', 'build'], { cwd: REPO, stdio: 'inherit' });
try {
  execFileSync('docker', ['network', 'inspect', 'boxship-testnet'], { stdio: 'ignore' });
} catch {
  execFileSync('docker', ['network', 'create', 'boxship-testnet'], { stdio: 'ignore' });
}

const remembered = (lane: number) => {
  try {
    const n = Number(readFileSync(join(laneDir(lane), 'host-slot'), 'utf8').trim());
    return Number.isInteger(n) && n >= 0 && n <= MAX_SLOT ? n : undefined;
  } catch {
    return undefined;
  }
};
const slots = chooseLaneSlots(
  lanes.map((_, i) => ({ owner: `${REPO}#lane-${i + 1}`, remembered: remembered(i + 1) })),
  await machineView(candidatePorts()),
);
for (const [i, l] of lanes.entries()) {
  const total = l.reduce((s, j) => s + j.seconds, 0);
  console.log(`== lane ${i + 1} (slot ${slots[i]!.index}, ~${total}s): ${l.map((j) => j.name).join(', ')}`);
}

const outcome = await Promise.all(lanes.map((l, i) => runLane(i + 1, slots[i]!.index, l)));

console.log(`\n== integration lanes done in ${elapsed()}`);
const failed: string[] = [];
for (const [i, o] of outcome.entries()) {
  const seen = new Set(o.results.map((r) => r.name));
  const line = o.results.map((r) => `${r.name} ${r.seconds}s${r.passed ? '' : ' FAILED'}`).join(', ');
  console.log(`   lane ${i + 1}: exit ${o.code}; ${line}`);
  for (const r of o.results) if (!r.passed) failed.push(`${r.name} (lane ${i + 1})`);
  // A file that never reported (vitest stopped before it, or its global setup failed) is a failure too.
  for (const j of o.expected) if (!seen.has(j.name)) failed.push(`${j.name} (lane ${i + 1}: no result)`);
  if (o.code !== 0 && !failed.some((f) => f.endsWith(`(lane ${i + 1})`) || f.includes(`(lane ${i + 1}:`))) failed.push(`lane ${i + 1} exited ${o.code}`);
}
if (failed.length) {
  console.error(`== FAILED: ${failed.join('; ')}; the lanes' whole output: .boxship-test/lanes/N/test.log`);
  process.exit(1);
}
console.log('== all integration files passed');
