/**
 * The one interface both backends implement: the per-host backend (src/rollout: instances behind each host's proxy,
 * swapped one slot at a time) and the Swarm backend (src/swarm: a Swarm service updated by Swarm). Every command
 * file under src/cli asks `openBackend(config, env)` for one and calls it; none asks which backend it got, except to
 * render a result whose shape only that backend has (the `backend` field of each result says which).
 *
 * A backend does not print: it reports through `env` and returns data. What it cannot do it refuses with a
 * NotOnBackendError (unsupported.ts) that names the alternative.
 */
import type Docker from 'dockerode';
import type { EdgeStatus } from '../edge/status.js';
import type { HostConfig } from '../config/types.js';
import type { HookName } from '../hooks/run.js';
import type { StreamIo, StreamResult } from '../hosts/runner.js';
import type { ProxyMode } from '../proxy/caddy-answers.js';
import type { RolloutOutcome } from '../rollout/run.js';
import type { SwarmOutcome } from '../swarm/rollout.js';
import type { SwarmStatusJson } from '../swarm/status.js';
import type { AccessoryResult } from '../accessories/run.js';
import type { LogLine } from '../logs/lines.js';
import type { HostRemoval } from '../remove/run.js';
import type { Report } from '../util/events.js';
import type { LockReleaseOutcome } from '../fleet/lock-release.js';
import type { Plan } from './plan.js';

/** What the CLI lends a backend: how progress is shown, how to connect, Ctrl-C, the local engine, the hooks' output. */
export interface BackendEnv {
  /**
   * Runs `work` as one visible step (a listr2 task in the CLI, plain in tests and plans); while it runs, `report`
   * feeds that step. `failed` names a result that is a failure without being an exception (a run that rolled back).
   */
  step<T>(title: string, work: () => Promise<T>, failed?: (r: T) => string | undefined): Promise<T>;
  /** Progress and warnings; inside a step they go to it, outside to the terminal's stderr. */
  report: Report;
  /** Set on SIGINT/SIGTERM by the CLI: the move in flight finishes (or is put back), then the run stops. */
  interrupt: { requested: boolean };
  /** The command line being run, for the lock and the audit log. */
  commandLine: string;
  acceptNewHostKeys?: boolean;
  /** The deployer's engine (loaded on first use: commands that never build or ship start faster). */
  docker(): Promise<Docker>;
  /** Where hooks stream their output and where their header and footer lines go. */
  hookIo: StreamIo;
}

/** Exit codes are part of each result: the command sets process.exitCode from it after rendering. */
interface Coded {
  exitCode: number;
}

export interface HookRun {
  name: HookName;
  host?: string;
  exitCode: number;
}

/** Before `release` builds: which hosts get the image, which were left out and why, what was caught up. */
export interface ReleaseTargets extends Coded {
  hosts: HostConfig[];
  /** Hosts that get no release, with why (a Swarm node no task can be placed on: `node` describes it). */
  skipped: { host: string; node?: string; why: string }[];
  /** Earlier releases shipped to hosts that lacked them (Swarm nodes that joined), and the ones that failed. */
  caughtUp: { host: string; tag: string; ok: boolean; error?: string }[];
}

export interface DeployRequest {
  kind: 'rollout' | 'rollback';
  /** The release (a sha prefix is enough); default: newest everywhere (rollout) or the previous one (rollback). */
  wanted?: string;
  canary?: number;
  /** Every host at once (each still one instance at a time); rollback's default. */
  parallelHosts?: boolean;
  plan?: boolean;
  /** End only once the old instances have finished draining (per-host backend; default: they drain on their hosts). */
  wait?: boolean;
}

export type DeployResult = Coded &
  (
    | { backend: 'plan'; plan: Plan }
    | { backend: 'hosts'; service: string; kind: 'rollout' | 'rollback'; outcome: RolloutOutcome; total: number; hooks: HookRun[]; hookFailure?: HookFailure }
    | { backend: 'swarm'; service: string; kind: 'rollout' | 'rollback'; outcome: SwarmOutcome; replicas: number; canary?: number }
  );

/** A hook that failed around a rollout: what it means for what serves, and what to do. */
export interface HookFailure {
  run: HookRun;
  message: string;
  hint: string;
}

export type SetupResult = Coded & ({ backend: 'plan'; plan: Plan } | { backend: 'hosts' | 'swarm'; hosts: number; caughtUp: ReleaseTargets['caughtUp'] });

export type MaintenanceResult = Coded & ({ backend: 'plan'; plan: Plan } | { backend: 'hosts' | 'swarm'; mode: ProxyMode; hosts: number });

export type StatusResult = Coded & ({ backend: 'hosts'; rows: HostStatusRow[] } | { backend: 'swarm'; status: SwarmStatusJson });

/** One host in `status` (and `status --json`, an array of these). */
export type HostStatusRow =
  | { host: string; error: string }
  | {
      host: string;
      mode: ProxyMode['kind'];
      proxy: string;
      current?: string;
      previous?: string;
      instances: { name: string; slot: number; colour: string; tag: string; running: boolean; health: 'healthy' | 'unhealthy' | 'stopped' }[];
      /**
       * Old instances finishing their requests after a rollout or rollback (out of rotation, removed when done):
       * `until` is when they are stopped at the latest (ISO time: the seconds the host's clock gives them, from now here).
       */
      draining?: { name: string; slot: number; tag: string; until: string }[];
      accessories?: { name: string; image: string; status: string }[];
      /** With roles: in boxship.yml: every container of a role on the host (leftovers of a cut-off move too). */
      roles?: { name: string; role: string; slot: number; tag: string; state: 'running' | 'stopped' }[];
      /** With proxy.hosts: the server's edge, and each host name's certificate or why it has none. */
      edge?: EdgeStatus;
      lock: { who: string; command: string; time: string; ageSeconds: number; stale: string | null } | null;
    };

export interface Backend {
  readonly kind: 'hosts' | 'swarm';
  /** The node check (Swarm) and the hosts to ship a release to; `selected` is --host. */
  releaseTargets(selected?: HostConfig[]): Promise<ReleaseTargets>;
  setup(req: { plan?: boolean }): Promise<SetupResult>;
  /** rollout and rollback (with the hooks around a rollout, under one lock); --plan gives the plan instead. */
  deploy(req: DeployRequest): Promise<DeployResult>;
  maintenance(req: { mode: ProxyMode; plan?: boolean }): Promise<MaintenanceResult>;
  status(): Promise<StatusResult>;
  /** Removes the deploy lock wherever this backend keeps it (every host; the Swarm manager). */
  releaseLock(req?: { force?: boolean }): Promise<LockReleaseResult>;
  /** The rest: a backend without them throws NotOnBackendError, naming what to run instead. */
  logs(req: LogsRequest): Promise<LogsResult>;
  exec(req: ExecRequest, io: StreamIo): Promise<StreamResult>;
  accessory(req: AccessoryRequest): Promise<AccessoryResultSet>;
  /** Takes the service off every host (containers, edge routes, images, network, state; data only with removeData). */
  remove(req: RemoveRequest): Promise<RemoveResult>;
}

/** Released on `hosts`; or, when a holder looks alive and it was not forced, nothing released and `refused` says where. */
export interface LockReleaseResult extends Coded, LockReleaseOutcome {}

export interface LogsRequest {
  /** --host; default every host (of the accessory, for accessory logs). */
  hosts?: HostConfig[];
  /** An accessory's logs instead of the app's. */
  accessory?: string;
  /** A role's containers (roles: in boxship.yml) instead of web's instances. */
  role?: string;
  proxy?: boolean;
  follow?: boolean;
  since?: string;
  lines?: number;
  /** Each line as it comes (merged by time per batch); the CLI formats it. */
  onLine(line: LogLine): void;
  /** Aborted on Ctrl-C while following. */
  signal: AbortSignal;
  /** Told before any line, for each host that cannot be reached (the others still print). */
  onUnreachable(host: string, error: Error): void;
}

export interface LogsResult extends Coded {
  unreachable: { host: string; error: string }[];
}

interface ExecRequest {
  /** The host to run on (as in boxship.yml, or its hostname); default the first. */
  host?: string;
  argv: string[];
  release?: string;
  /** Run it as this role's container would: its env, stop signal and (without argv) its command; on one of its hosts. */
  role?: string;
  interactive?: boolean;
  tty?: boolean;
}

export interface AccessoryRequest {
  verb: 'up' | 'down' | 'restart';
  name: string;
  removeData?: boolean;
  plan?: boolean;
}

export type AccessoryResultSet = Coded &
  ({ backend: 'plan'; plan: Plan } | { backend: 'hosts'; accessory: string; verb: AccessoryRequest['verb']; hosts: AccessoryResult[] });

export interface RemoveRequest {
  /** Also the app's volumes and the accessories' data folders (cannot be undone). */
  removeData?: boolean;
  plan?: boolean;
}

export type RemoveResult = Coded & ({ backend: 'plan'; plan: Plan } | { backend: 'hosts'; service: string; hosts: HostRemoval[] });
