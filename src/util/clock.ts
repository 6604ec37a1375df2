/**
 * Time, injectable: loops that wait on a remote system (Swarm's update state, a health budget) take a Clock, so
 * their fault paths (a stall, a timeout) have fast unit tests with a fake one instead of real waits.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const systemClock: Clock = { now: () => Date.now(), sleep };
