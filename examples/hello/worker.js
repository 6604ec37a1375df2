'use strict';
// boxship example worker: the same image as the web process, run as a role (roles: in boxship.yml) with
// cmd [node, worker.js]. It has no HTTP. With REDIS_HOST set (a Redis accessory) it takes the jobs the web role
// queues (POST /jobs) from the list `jobs` and marks each done in the hash `done` with who did it
// ("<role> <sha> <container>", GET /jobs/done shows them); without it, every second it does a pretend job.
// `node worker.js --check` is its health command: exit 0 once the worker has done its first round (with Redis: one
// answered round trip, so a worker that cannot reach its queue never passes).
const fs = require('node:fs');
const { redis } = require('./redis.js');

const VERSION = '1';
const READY = '/tmp/worker-ready';

if (process.argv.includes('--check')) process.exit(fs.existsSync(READY) ? 0 : 1);

const name = process.env.BOXSHIP_ROLE || 'worker';
const sha = (process.env.BOXSHIP_SHA || 'dev').slice(0, 12);
const who = `${name} ${sha} ${process.env.BOXSHIP_INSTANCE || 'local'}`;
let jobs = 0;
let stopping = false;

// One round: every queued job, each marked done before the next is taken (a job is never taken twice: RPOP).
async function round() {
  if (!process.env.REDIS_HOST) {
    jobs += 1;
    console.log(`${name} ${VERSION} ${sha}: job ${jobs}`);
    return;
  }
  for (;;) {
    const job = await redis(['RPOP', 'jobs']);
    if (job === null) return;
    await redis(['HSET', 'done', job, who]);
    jobs += 1;
    console.log(`${name} ${VERSION} ${sha}: did job ${job}`);
  }
}

let busy = false;
async function loop() {
  while (!stopping) {
    busy = true;
    try {
      await round();
      if (!fs.existsSync(READY)) fs.writeFileSync(READY, `${Date.now()}\n`);
    } catch (err) {
      console.error(`${name}: ${err.message}; trying again in 1 s`);
    }
    busy = false;
    if (stopping) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  process.exit(0);
}
loop();

// A worker finishes the job in hand (a job taken is always marked done) and exits on its stop signal; boxship stops
// the old one only after the new one is healthy.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    console.log(`${name}: ${signal}, stopping after ${jobs} job(s)`);
    stopping = true;
    if (!busy) process.exit(0);
  });
}
