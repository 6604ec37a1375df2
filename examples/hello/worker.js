'use strict';
// boxship example worker: the same image as the web process, run as a role (roles: in boxship.yml) with
// cmd [node, worker.js]. It has no HTTP: every second it does its "job" (one line on stdout, with the release it
// runs), and `node worker.js --check` is its health command: exit 0 once the worker has done its first job.
const fs = require('node:fs');

const VERSION = '1';
const READY = '/tmp/worker-ready';

if (process.argv.includes('--check')) process.exit(fs.existsSync(READY) ? 0 : 1);

const name = process.env.BOXSHIP_ROLE || 'worker';
const sha = (process.env.BOXSHIP_SHA || 'dev').slice(0, 12);
let jobs = 0;
const timer = setInterval(() => {
  jobs += 1;
  console.log(`${name} ${VERSION} ${sha}: job ${jobs}`);
  if (jobs === 1) fs.writeFileSync(READY, `${Date.now()}\n`);
}, 1000);

// A worker finishes the job in hand and exits on its stop signal (boxship stops the old one after the new one is healthy).
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    console.log(`${name}: ${signal}, stopping after ${jobs} job(s)`);
    clearInterval(timer);
    process.exit(0);
  });
}
