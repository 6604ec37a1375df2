/**
 * The typed, validated, defaults-applied shape of boxship.yml. The zod schema in schema.ts produces exactly this;
 * everything else in boxship reads only this type. Paths are absolute (resolved against the config file's folder).
 */
import type { StopSignal } from './signal.js';

export interface HostConfig {
  /** As written in the config, e.g. "deploy@10.0.0.5:22"; used in every message about this host. */
  name: string;
  user: string;
  hostname: string;
  port: number;
  /** Absolute path of the private key; undefined means: use the ssh-agent at SSH_AUTH_SOCK. */
  identityFile?: string;
  /** Absolute path of the known_hosts file the host key is checked against. */
  knownHosts: string;
  /** Optional bastion the connection goes through. */
  jump?: { user: string; hostname: string; port: number; name: string };
  /** Instances (containers) of the service on this host. */
  instances: number;
  /** Where other hosts reach this one when relaying layers to it (default: user, hostname and port above). */
  relayAddress?: { user: string; hostname: string; port: number };
  /**
   * private_address: where the other hosts' containers reach this host's accessories (published on it, and only
   * there). Absent: relay_address's host name, else `hostname` (accessories/reach.ts).
   */
  privateAddress?: string;
}

export interface VolumeConfig {
  /** Folder name under the service's state dir on the host, e.g. "db". */
  name: string;
  /** Mount point inside the container. */
  path: string;
  /** Mounted read-only (`mode: ro`). */
  readOnly: boolean;
}

/** A long-lived companion of the app (a database, a cache): `accessories.<name>` in boxship.yml. */
export interface AccessoryConfig {
  /** Key under `accessories:`; the container is `<service>-<name>`, its network alias `<name>`. */
  name: string;
  /** Image reference as the local engine names it; shipped to the hosts, never pulled there. */
  image: string;
  /** Names (HostConfig.name) of the hosts it runs on, in the order of `hosts:`. */
  hosts: string[];
  /** Port it listens on inside its container (waited for after a start). */
  port?: number;
  /** Host address `port` is published on; absent: not published. */
  publish?: string;
  env: Record<string, string>;
  /** Absolute path of a local KEY=VALUE file whose values go into its 0600 env file on the host. */
  secretsFile?: string;
  /** Folders under `~/.boxship/<service>/accessories/<name>/` on the host. */
  volumes: VolumeConfig[];
  /** The container's command (replacing the image's CMD); absent: the image's own. */
  cmd?: string[];
  /** Seconds docker stop waits before SIGKILL. */
  stopTimeoutSeconds: number;
  /** The signal docker stop sends first, e.g. "SIGQUIT" (always with SIG); absent: the image's STOPSIGNAL. */
  stopSignal?: StopSignal;
}

/** How a new container of a role is judged healthy: a command in it exits 0, or it is still running after a while. */
type RoleHealth = { kind: 'cmd'; cmd: string[] } | { kind: 'running'; seconds: number };

/** A process of the release beside the web one (a queue consumer, a scheduler): `roles.<name>` in boxship.yml. */
export interface RoleConfig {
  /** Key under `roles:`; its containers are `<service>-<name>-<slot>`. Never `web` (the app itself). */
  name: string;
  /** The container's command, replacing the image's CMD. */
  cmd: string[];
  /** Names (HostConfig.name) of the hosts it runs on, in the order of `hosts:`. */
  hosts: string[];
  /** Containers of the role per host. */
  instances: number;
  /** On top of the app's env file (app.env and secrets). */
  env: Record<string, string>;
  health: RoleHealth;
  stopSignal?: StopSignal;
}

export interface SwarmConfig {
  /** The name (as in hosts) of the host whose engine is a swarm manager. */
  manager: string;
  /** Tasks of the service across the swarm. */
  replicas: number;
  /** Placement constraints, as `docker service create --constraint` takes them. */
  constraints: string[];
}

export interface Config {
  /** Absolute path of the boxship.yml this came from. */
  file: string;
  /** Folder of that file: relative paths in it are resolved against this. */
  dir: string;
  /** Service name (SERVICE_RE in service-name.ts), used for image, container, network and state-dir names. */
  service: string;
  build: {
    context: string;
    /** Path of the Dockerfile, absolute. */
    dockerfile: string;
    target?: string;
    /** os/arch[/variant] passed to the BuildKit build; absent: the engine's own platform. */
    platform?: string;
    args: Record<string, string>;
    /** Files outside git added to the build context: paths relative to the context, forward slashes. */
    include: string[];
    /** Base images pinned by local image ID: image reference as written in FROM -> "sha256:<64 hex>". */
    pins: Record<string, string>;
  };
  hosts: HostConfig[];
  app: {
    /** Port the app listens on inside its container. */
    port: number;
    env: Record<string, string>;
    /** Absolute path of a local KEY=VALUE file whose values are written to the host in a 0600 env file. */
    secretsFile?: string;
    volumes: VolumeConfig[];
    /** Env var that tells the app where its config file is, e.g. { env: "APP_CONFIG", path: "/app/configs/app.json" }. */
    configFile?: { env: string; path: string };
    /** Seconds an old instance keeps serving in-flight requests after it leaves the proxy. */
    drainSeconds: number;
    /** Seconds docker stop waits before SIGKILL. */
    stopTimeoutSeconds: number;
    /** The signal docker stop sends first, e.g. "SIGINT" (always with SIG); absent: the image's STOPSIGNAL. */
    stopSignal?: StopSignal;
  };
  healthcheck: {
    path: string;
    /** Defaults to app.port. */
    port: number;
    intervalMs: number;
    timeoutMs: number;
    retries: number;
  };
  proxy: {
    image: string;
    /** Port the proxy listens on, published on the host; absent: not published (a service the edge serves by name). */
    port?: number;
    /** Address the proxy port is published on, default 0.0.0.0. */
    bind: string;
    retryAfterSeconds: number;
    backoffHeader: string;
    /** proxy.hosts: the server's edge (src/edge) serves the service by name. */
    site?: Site;
  };
  releases: {
    /** Releases (images) kept per host; older ones are removed after a release. */
    keep: number;
  };
  /**
   * Present with `backend: swarm` (absent: the per-host backend): the hosts are the nodes of a Docker Swarm and the
   * service is a Swarm service (src/swarm).
   */
  swarm?: SwarmConfig;
  ship: {
    /** auto: zstd where every host loads it and this machine has zstd, else gzip. */
    compression: 'auto' | 'gzip' | 'zstd' | 'none';
    /** auto: hosts lacking the same layers forward them to each other; off: a copy per host from here. */
    relay: 'auto' | 'off';
    /** forward: a relay hop's command (only that one) gets the deployer's ssh-agent; off: the head's own key. */
    relayAgent: 'forward' | 'off';
  };
  /** Present when boxship.yml has hooks: each one as argv (a string in the file becomes ["sh", "-c", string]). */
  hooks?: {
    preRelease?: string[];
    preRollout?: string[];
    postRollout?: string[];
    /** hooks.timeout_seconds: how long each hook may run before it is stopped and counts as failed. */
    timeoutSeconds: number;
  };
  /** Present when boxship.yml has accessories, in the order written. */
  accessories?: AccessoryConfig[];
  /** Present when boxship.yml has roles beside web, in the order written. */
  roles?: RoleConfig[];
}

/** How the server's edge serves a service (proxy.hosts and what goes with it). */
export interface Site {
  hosts: string[];
  /** One path segment, e.g. `/api`: only requests under it. */
  pathPrefix?: string;
  tls: SiteTls;
  /** tls auto: the ACME CA; the caRoot is the PEM text, read from the file when boxship.yml was loaded. */
  acme: { email?: string; ca?: string; caRootPem?: string };
  redirectHttps: boolean;
  hsts: boolean;
  edge: { httpPort: number; httpsPort: number; image?: string };
}

export type SiteTls = { mode: 'auto' | 'internal' | 'off' } | { mode: 'files'; certFile: string; keyFile: string };
