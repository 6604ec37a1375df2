/**
 * The relay chains of one release while it runs (plan-hosts.ts says who is in which chain): the one SSH probe per
 * head of whether it reaches its members, the decision of whom it relays to once the layers it sends are big enough
 * to be worth a hop, and what each relayed host waits on until its head's send is over. Its own module so the
 * per-host send (ship-host.ts) reads as "relayed, or sent directly" and the waiting lives in one place.
 */
import type { Config } from '../config/types.js';
import type { Report } from '../util/events.js';
import { relayProbe } from './commands.js';
import { probeVerdict, type RelayChains, relayChains, relayTarget, type ShipConnection } from './plan-hosts.js';
import { deferred } from './supply-state.js';
import type { RelayOutcome } from './transfer.js';

/** Below this many (uncompressed) bytes a host lacks, direct sends beat a relay hop. */
const RELAY_MIN_BYTES = 16 << 20;

type Probe = (head: number, members: number[]) => Promise<string>;

/**
 * Whether a relay head reaches its members over SSH (commands.ts relayProbe), asked once per head. With ship.relay
 * auto and two or more live hosts, the first of them (the head of any chain it is in: chains are in host order) asks
 * about all the others at once, beside the inventories, so a relay waits for one round trip less (0.4 s of a 4-host
 * first release measured here); it is an SSH session on that host, whose answer goes unused when nothing is relayed.
 * With ship.relay_agent off (the default) the head has only its own keys, so a head without a deploy key the members
 * accept fails the probe and its members get direct sends.
 */
export function relayProbes(connections: readonly ShipConnection[], relay: Config['ship']['relay'], relayAgent: Config['ship']['relayAgent']): Probe {
  const asked = new Map<number, { members: number[]; out: Promise<string> }>();
  const ask = (head: number, members: number[]): Promise<string> => {
    const known = asked.get(head);
    if (known && members.every((m) => known.members.includes(m))) return known.out;
    const targets = members.map((m) => relayTarget(connections, m));
    // The probe opens the same kind of session as the hop, so it gets the deployer's agent exactly when the hop does.
    const out = connections[head]!.ssh!.exec(relayProbe(targets), { agentForward: relayAgent === 'forward' })
      .then((r) => r.stdout)
      .catch((e: Error) => members.map((m) => `fail h${m} ${e.message}`).join('\n'));
    asked.set(head, { members, out });
    return out;
  };
  const live = connections.flatMap((c, k) => (c.ssh && !c.ssh.dryRun && c.ssh.hostKey() ? [k] : []));
  if (relay === 'auto' && live.length >= 2) void ask(live[0]!, live.slice(1));
  return ask;
}

export interface Relays {
  /** The head host k would get its bytes from, if it is in a chain. */
  headOf(k: number): number | undefined;
  /** The hosts k heads a chain for (empty when none). */
  membersOf(k: number): number[];
  /** Whom a head relays to (decided once, see below). */
  decide(head: number): Promise<number[]>;
  /** Why the head's probe could not reach host k, when it could not. */
  probeFailed(k: number): string | undefined;
  /** What became of the relay to host k, once its head's send is over. */
  outcome(k: number): Promise<RelayOutcome>;
  /** Says what became of the relay to host k (the first word counts). */
  settle(k: number, o: RelayOutcome): void;
}

export interface RelaySetup {
  connections: readonly ShipConnection[];
  /** Per host: the layer indexes it lacks, or undefined when it cannot be in a chain. */
  candidates: readonly (readonly number[] | undefined)[];
  /** The layer indexes a head sends (its plan's missing layers). */
  missingOf(head: number): number[];
  /** A layer's uncompressed size, once known. */
  size(layer: number): Promise<number>;
  probe: Probe;
  report: Report;
  /** Whether the heads have the deployer's agent (ship.relay_agent), for the note on a member they cannot reach. */
  relayAgent: Config['ship']['relayAgent'];
}

export function relays(s: RelaySetup): Relays {
  const { chains, headOf }: RelayChains = relayChains(s.candidates);
  const relayed = new Map([...headOf.keys()].map((m) => [m, deferred<RelayOutcome>()]));
  const probeFailed = new Map<number, string>();
  /**
   * Which members a head relays to: decided once the layers it sends reach RELAY_MIN_BYTES (below that a direct
   * send costs less than a hop), and only those the head can open an SSH session on (probed once; the others get a
   * direct send at once, with the reason in progress and in the summary).
   */
  const decisions = new Map<number, Promise<number[]>>();
  const decide = (head: number): Promise<number[]> => {
    let d = decisions.get(head);
    if (!d) {
      d = (async () => {
        const members = chains.get(head) ?? [];
        if (!(await reaches(s.missingOf(head), RELAY_MIN_BYTES))) return [];
        const { relay, failed } = probeVerdict(await s.probe(head, members), members);
        for (const [m, why] of failed) {
          probeFailed.set(m, why);
          s.report({
            kind: 'step',
            host: s.connections[m]!.host.name,
            message: `no relay from ${s.connections[head]!.host.name} (${why}): sending directly${s.relayAgent === 'off' ? ` (with ship.relay_agent off the head has only its own SSH key: give it a deploy key this host accepts, see the README's security section)` : ''}`,
          });
        }
        return relay;
      })().catch(() => []);
      decisions.set(head, d);
    }
    return d;
  };
  /** True once the known sizes of these layers add up to `min`, false when all are known and they do not. */
  const reaches = (layers: number[], min: number): Promise<boolean> =>
    new Promise((resolve) => {
      let sum = 0;
      let left = layers.length;
      if (!left) resolve(false);
      for (const i of layers)
        s.size(i).then(
          (n) => {
            sum += n;
            if (sum >= min) resolve(true);
            if (--left === 0) resolve(sum >= min);
          },
          () => {
            if (--left === 0) resolve(sum >= min);
          },
        );
    });
  return {
    headOf: (k) => headOf.get(k),
    membersOf: (k) => chains.get(k) ?? [],
    decide,
    probeFailed: (k) => probeFailed.get(k),
    outcome: (k) => relayed.get(k)!.promise,
    settle: (k, o) => relayed.get(k)!.resolve(o),
  };
}
