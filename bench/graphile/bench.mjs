// The benchmark's fan-out on a peer, graphile-worker: N no-op jobs run by one runner of `--slots` concurrency
// (graphile-worker's `concurrency`, the same number as Gantry's worker slots), in a fresh database that it drops at
// the end. Prints one line per figure, as gantry-bench does (`name value unit [N=..]`), and exits non-zero unless
// every job ran exactly once.
//
// Usage: DATABASE_URL=postgres://... node bench.mjs [--sizes 10000,100000] [--slots 8]
// (`scripts/bench-peer` installs the packages and provides Postgres.)
//
// graphile-worker is pinned at 0.17.3 (package-lock.json), its last release for Node.js 20: 0.18 needs Node.js 22.18.
// Its schema comes from runMigrations, once per run. For each N, with a runner started and idle beforehand:
// - submit: all N jobs in one round trip, WorkerUtils.addJobs (one call of graphile-worker's `add_jobs` SQL function);
// - completion: the runner's `job:success` events, counted to N (no polling). graphile-worker emits it when the handler
//   has returned and then sends the completion (the job's delete) without awaiting it, so after the N-th event the
//   program queries the jobs table until it is empty (back to back, no sleep: a few round trips, milliseconds):
//   the wall runs from before the submit to the last completion committed.
// graphile-worker's other settings keep their defaults (no local queue, no batched completions).

import { EventEmitter } from "node:events";
import pg from "pg";
import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";

function options() {
  const options = { sizes: [10_000], slots: 8 };
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const number = (text) => {
      const parsed = Number(text);
      if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${flag}: ${text} is not a positive integer`);
      return parsed;
    };
    if (flag === "--sizes") options.sizes = value.split(",").map(number);
    else if (flag === "--slots") options.slots = number(value);
    else throw new Error(`unknown flag ${flag}`);
  }
  return options;
}

function figure(name, value, unit, n) {
  console.log(`${name} ${value.toFixed(3)} ${unit}${n === undefined ? "" : ` N=${n}`}`);
}

// graphile-worker logs every job at info level: keep stdout for the figures, warnings and errors go to stderr.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`graphile-worker ${level}: ${message}`);
});

async function withClient(connectionString, fn) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// One fan-out of n no-op jobs: returns the wall time in seconds, or throws if a job did not run exactly once.
async function fanout(connectionString, n, slots, interrupted) {
  const runs = new Uint32Array(n); // runs[i]: how many times the job of index i ran
  const events = new EventEmitter();
  let succeeded = 0;
  let allSucceeded;
  const done = new Promise((resolve) => (allSucceeded = resolve));
  events.on("job:success", () => {
    if (++succeeded === n) allSucceeded();
  });
  // The runner's and the submitter's connections, max(10, slots + 2) as graphile-worker's docs recommend; a pool of
  // our own so that we close it, with the error handlers graphile-worker asks for, which log an error (as when the
  // database is dropped under an interrupted run) rather than throw it.
  const pgPool = new pg.Pool({ connectionString, max: Math.max(10, slots + 2) });
  // pool.end() resolves before the server has seen every connection go: the drop may end the last ones, unlogged.
  let ended = false;
  const logError = (error) => ended || console.error(`postgres connection: ${error.message}`);
  pgPool.on("error", logError);
  pgPool.on("connect", (client) => client.on("error", logError));
  const runner = await run({
    pgPool,
    concurrency: slots,
    noHandleSignals: true,
    logger,
    events,
    crontab: "",
    taskList: {
      noop: async (payload) => {
        runs[payload.i] += 1;
      },
    },
  });
  const utils = await makeWorkerUtils({ pgPool, logger });
  const timeoutMs = Math.max(300_000, n); // a millisecond a job, never less than 300 s, like gantry-bench
  let timer;
  try {
    const jobs = Array.from({ length: n }, (_, i) => ({ identifier: "noop", payload: { i } }));
    const start = process.hrtime.bigint();
    await utils.addJobs(jobs);
    await Promise.race([
      done,
      interrupted,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${succeeded} of ${n} jobs done after ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    // The N-th success is emitted before its completion is written: wait for the jobs table to be empty.
    await utils.withPgClient(async (client) => {
      for (;;) {
        const { rows } = await client.query("select count(*)::int as left from graphile_worker._private_jobs");
        if (rows[0].left === 0) return;
      }
    });
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    clearTimeout(timer);
    await runner.stop();
    const wrong = [];
    for (let i = 0; i < n && wrong.length < 10; i++) if (runs[i] !== 1) wrong.push(`job ${i} ran ${runs[i]} times`);
    if (wrong.length > 0) throw new Error(`not every job ran exactly once: ${wrong.join(", ")}`);
    return wall;
  } finally {
    clearTimeout(timer);
    await runner.stop().catch(() => {}); // already stopped on success
    await utils.release();
    await pgPool.end();
    ended = true;
  }
}

async function main() {
  const { sizes, slots } = options();
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error("DATABASE_URL is not set");
  const database = `gantry_peer_${process.pid}`;
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const connectionString = url.toString();

  let interrupt;
  const interrupted = new Promise((_, reject) => (interrupt = reject));
  interrupted.catch(() => {});
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => interrupt(new Error(`interrupted (${signal})`)));

  await withClient(adminUrl, (client) => client.query(`create database ${database}`));
  try {
    await runMigrations({ connectionString, logger });
    figure("peer_graphile_worker_slots", slots, "slots");
    for (const n of sizes) {
      const wall = await fanout(connectionString, n, slots, interrupted);
      figure("peer_graphile_worker_wall", wall, "s", n);
      figure("peer_graphile_worker_jobs_per_second", n / wall, "jobs/s", n);
    }
  } finally {
    await withClient(adminUrl, (client) => client.query(`drop database if exists ${database} with (force)`));
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`peer benchmark failed: ${error.message}`);
    process.exit(1);
  },
);
