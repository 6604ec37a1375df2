import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit` (test/unit) needs no hosts: its files run in parallel on the threads pool and nothing brings a
 * container up. `integration` (test/integration) shares this checkout's simulated hosts, so its files run one at a
 * time, each in a fresh child process, after global-setup.ts has brought the hosts up. A run of both does the unit
 * files first, so they fail fast and their CPU load does not skew the integration suites' timings.
 *
 *   npm run test:unit                                  vitest run --project unit
 *   npx vitest run --project integration [files...]    the hosts come up first
 *   npm test                                           both projects, then the Caddy 2.11 pass (integration only)
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    poolOptions: {
      // Pool sizes are root-only options, so the projects are told apart by pool: threads is unit's alone and may use
      // every core (the main process mostly waits); forks is integration's alone, and one fork is one file at a time.
      threads: { maxThreads: '100%' },
      forks: { maxForks: 1, minForks: 1 },
    },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'threads',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          pool: 'forks',
          sequence: { groupOrder: 1 },
          testTimeout: 300_000,
          hookTimeout: 300_000,
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
    ],
  },
});
