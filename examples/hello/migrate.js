'use strict';
// The example's migration, for the pre_rollout hook (`node migrate.js`, in a one-off container of the new release):
// records that this release migrated, as a row in the Redis accessory (REDIS_HOST), which the app serves at
// /migrations. Safe to run twice: the row is keyed by the release.
const { redis } = require('./redis.js');

const sha = process.env.BOXSHIP_SHA || 'unknown';
redis(['HSET', 'migrations', sha, new Date().toISOString()]).then(
  () => console.log(`migration for ${sha} recorded in redis at ${process.env.REDIS_HOST}`),
  (err) => {
    console.error(`migrate: ${err.message}`);
    process.exit(1);
  },
);
