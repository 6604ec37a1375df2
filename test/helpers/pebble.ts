/**
 * A real ACME CA for the edge tests: Debian's pebble (RFC 8555 test server) with pebble-challtestsrv as its DNS, one
 * pair per host slot (host-slots.ts), so checkouts running side by side never share or clash. Certificates come by a
 * real HTTP-01 validation against the test host the name points at: PEBBLE_VA_ALWAYS_VALID is removed from pebble's
 * environment, and a name nobody added (addName) resolves to nothing, so its validation fails.
 *
 * Ports of slot i, base = 14500 + 10 * i (slot 0: 14500-14503, slot 20: 14700-14703; clear of pebble's own defaults
 * 14000 and 15000, which a hand-run pebble uses). When one of them is taken (a pebble another checkout left running,
 * say, as a demo does), four free ports the kernel picks are used instead: the ports are in state.json, and every
 * client takes them from there (directoryUrl), so nothing depends on the numbers.
 *   base      pebble's ACME directory, https://<test network gateway>:base/dir (what a test host and the machine use)
 *   base + 1  pebble's management API on 127.0.0.1 (roots/0, intermediates/0)
 *   base + 2  challtestsrv's DNS (udp + tcp) on 127.0.0.1, pebble's -dnsserver
 *   base + 3  challtestsrv's management API on 127.0.0.1 (add-a)
 * pebble validates on port 80 (HTTP-01) and 443 (TLS-ALPN-01) of the name's address: each test host's own IP.
 *
 * The processes run detached, their pids and slot in .boxship-test/pebble/state.json: the integration files (one at a
 * time) share one pebble, and global-setup's teardown stops it (stopOwnPebble) without touching other slots' pebbles.
 * The issuing root is new at every pebble start, so clients take it from rootPem(), never from a file of an old run.
 */
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { TEST_STATE } from './paths.js';

const DIR = join(TEST_STATE, 'pebble');
const STATE = join(DIR, 'state.json');
const CONFIG = join(DIR, 'pebble.json');
const LOG = join(DIR, 'pebble.log');
const CERT = join(DIR, 'listener.pem');
const KEY = join(DIR, 'listener-key.pem');
const NETWORK = 'boxship-testnet';

interface Ports {
  acme: number;
  mgmt: number;
  dns: number;
  challMgmt: number;
}

interface State {
  slot: number;
  gateway: string;
  ports: Ports;
  pebble: number;
  challtestsrv: number;
}

export interface Pebble {
  /** The ACME directory as a test host (and the machine) reaches it. */
  directoryUrl: string;
  /** The certificate of pebble's own listener: what an ACME client must trust to talk to directoryUrl. */
  listenerCaPath: string;
  /** PEM of the issuing root and intermediate of this pebble run: what a TLS client must trust. */
  rootPem(): Promise<string>;
  /** Points `name` at `ip` in pebble's DNS (the test host whose edge answers the challenge), until pebble stops: use names of your own file. */
  addName(name: string, ip: string): Promise<void>;
  /** Certificates pebble issued since it started (its "Issued certificate" log lines). */
  orders(): number;
  /** pebble's log since it started, for assertions on failed validations and for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const slotPorts = (slot: number): Ports => {
  const base = 14500 + 10 * slot;
  return { acme: base, mgmt: base + 1, dns: base + 2, challMgmt: base + 3 };
};

/** Binds `port` (0: any) on `address` for an instant; resolves the port bound, or undefined when it is taken. */
function tryBind(address: string, port: number, udp = false): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (udp) {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(undefined));
      s.bind(port, address, () => {
        const bound = s.address().port;
        s.close(() => resolve(bound));
      });
      return;
    }
    const s = net.createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, address, () => {
      const bound = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(bound));
    });
  });
}

/** This slot's ports when all four are free, else free ones the kernel picks (the DNS port free for UDP and TCP). */
async function choosePorts(slot: number, gateway: string): Promise<Ports> {
  const want = slotPorts(slot);
  const free = async (p: Ports) =>
    (await tryBind(gateway, p.acme)) !== undefined &&
    (await tryBind('127.0.0.1', p.mgmt)) !== undefined &&
    (await tryBind('127.0.0.1', p.dns)) !== undefined &&
    (await tryBind('127.0.0.1', p.dns, true)) !== undefined &&
    (await tryBind('127.0.0.1', p.challMgmt)) !== undefined;
  if (await free(want)) return want;
  for (let attempt = 0; attempt < 20; attempt++) {
    const dns = await tryBind('127.0.0.1', 0, true);
    const picked = {
      acme: (await tryBind(gateway, 0)) ?? 0,
      mgmt: (await tryBind('127.0.0.1', 0)) ?? 0,
      dns: dns ?? 0,
      challMgmt: (await tryBind('127.0.0.1', 0)) ?? 0,
    };
    if (new Set(Object.values(picked)).size === 4 && !Object.values(picked).includes(0) && (await free(picked))) return picked;
  }
  throw new Error(`no free ports for pebble (slot ${slot}'s ${Object.values(want).join(', ')} are taken)`);
}

function gatewayIp(): string {
  const ip = execFileSync('docker', ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', NETWORK], { encoding: 'utf8' }).trim();
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`no gateway on docker network ${NETWORK} (${JSON.stringify(ip)}): bring the test hosts up first`);
  return ip;
}

/**
 * True when `pid` still runs this checkout's pebble or challtestsrv: its command line is `bin ...` and holds `mark`
 * (this checkout's config file; this slot's management port), so a recycled pid is never killed.
 */
function ours(pid: number, [bin, mark]: readonly [string, string]): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[0] === bin && argv.join(' ').includes(mark);
  } catch {
    return false;
  }
}

const marks = (ports: Ports) => ({
  pebble: ['pebble', `-config ${CONFIG}`] as const,
  challtestsrv: ['pebble-challtestsrv', `-management 127.0.0.1:${ports.challMgmt}`] as const,
});

function readState(): State | undefined {
  try {
    const s = JSON.parse(readFileSync(STATE, 'utf8')) as Partial<State>;
    // A state file of an older helper (no ports): its pebble ran on the slot's ports.
    return { ...s, ports: s.ports ?? slotPorts(s.slot ?? 0) } as State;
  } catch {
    return undefined;
  }
}

/** One HTTP(S) exchange; https trusts pebble's listener certificate (its management API and directory use it). */
function request(url: string, opts: { method?: string; body?: string } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method: opts.method ?? 'GET', ca: existsSync(CERT) ? readFileSync(CERT) : undefined, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await request(url)).status > 0;
  } catch {
    return false;
  }
}

async function kill(pid: number, mark: readonly [string, string]): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (ours(pid, mark)) process.kill(pid, sig);
    } catch {
      /* exited in between */
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 50 && ours(pid, mark); i++) await new Promise((r) => setTimeout(r, 100));
  signal('SIGKILL');
}

/** Stops this checkout's pebble (whatever slot it was started for); other checkouts' pebbles are never looked at. */
export async function stopOwnPebble(): Promise<void> {
  const s = readState();
  if (!s) return;
  await kill(s.pebble, marks(s.ports).pebble);
  await kill(s.challtestsrv, marks(s.ports).challtestsrv);
  rmSync(STATE, { force: true });
}

function detached(bin: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): number {
  const fd = openSync(logFile, 'w');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${bin} (apt-get install pebble; scripts/setup.sh does)`);
  return child.pid;
}

async function start(slot: number, gateway: string): Promise<State> {
  const p = await choosePorts(slot, gateway);
  mkdirSync(DIR, { recursive: true });
  // A new listener certificate per start: its names follow the gateway, should the test network be recreated.
  const san = `subjectAltName=DNS:localhost,IP:127.0.0.1,IP:${gateway}`;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-nodes', '-days', '3650', '-subj', '/CN=pebble', '-addext', san, '-keyout', KEY, '-out', CERT], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const config = {
    pebble: {
      listenAddress: `${gateway}:${p.acme}`,
      managementListenAddress: `127.0.0.1:${p.mgmt}`,
      certificate: CERT,
      privateKey: KEY,
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(CONFIG, JSON.stringify(config));
  const { PEBBLE_VA_ALWAYS_VALID: _never, ...env } = process.env;
  // No default addresses: a name the test did not add has no A/AAAA record, so its validation fails.
  const challtestsrv = detached(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${p.dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${p.challMgmt}`,
      '-defaultIPv4',
      '',
      '-defaultIPv6',
      '',
    ],
    join(DIR, 'challtestsrv.log'),
    env,
  );
  // NOSLEEP: no random 0-15 s validation delay; NONCEREJECT=0: no deliberately rejected nonces (less retry noise).
  const pebble = detached('pebble', ['-config', CONFIG, '-dnsserver', `127.0.0.1:${p.dns}`], LOG, {
    ...env,
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
  });
  const s: State = { slot, gateway, ports: p, pebble, challtestsrv };
  writeFileSync(STATE, JSON.stringify(s));
  for (let i = 0; i < 100; i++) {
    if (!ours(pebble, marks(p).pebble) || !ours(challtestsrv, marks(p).challtestsrv)) break;
    if (
      (await answers(`https://127.0.0.1:${p.mgmt}/roots/0`)) &&
      (await answers(`https://${gateway}:${p.acme}/dir`)) &&
      (await answers(`http://127.0.0.1:${p.challMgmt}/`))
    )
      return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopOwnPebble();
  const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : '(no log)');
  throw new Error(
    `pebble for slot ${slot} did not come up (ports ${Object.values(p).join(', ')} taken?)\npebble:\n${tail(LOG)}\nchalltestsrv:\n${tail(join(DIR, 'challtestsrv.log'))}`,
  );
}

/** This slot's pebble: the running one when it is this slot's and alive, else a fresh one (stopping a stale one first). */
export async function startPebble(slot: number): Promise<Pebble> {
  const gateway = gatewayIp();
  let s = readState();
  const alive = s && s.slot === slot && s.gateway === gateway && ours(s.pebble, marks(s.ports).pebble) && ours(s.challtestsrv, marks(s.ports).challtestsrv);
  if (!s || !alive || !(await answers(`https://127.0.0.1:${s.ports.mgmt}/roots/0`))) {
    await stopOwnPebble();
    s = await start(slot, gateway);
  }
  const p = s.ports;
  const mgmt = async (path: string) => {
    const r = await request(`https://127.0.0.1:${p.mgmt}${path}`);
    if (r.status !== 200) throw new Error(`pebble ${path}: HTTP ${r.status} ${r.body}`);
    return r.body.trim();
  };
  const log = () => (existsSync(LOG) ? readFileSync(LOG, 'utf8') : '');
  return {
    directoryUrl: `https://${gateway}:${p.acme}/dir`,
    listenerCaPath: CERT,
    rootPem: async () => `${await mgmt('/roots/0')}\n${await mgmt('/intermediates/0')}\n`,
    async addName(name, ip) {
      const host = name.endsWith('.') ? name : `${name}.`;
      const r = await request(`http://127.0.0.1:${p.challMgmt}/add-a`, { method: 'POST', body: JSON.stringify({ host, addresses: [ip] }) });
      if (r.status !== 200) throw new Error(`challtestsrv add-a ${name} -> ${ip}: HTTP ${r.status} ${r.body}`);
    },
    orders: () => log().match(/Issued certificate serial \S+ for order/g)?.length ?? 0,
    log,
    stop: stopOwnPebble,
  };
}
