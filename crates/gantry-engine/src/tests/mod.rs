//! The engine's own tests: batches applied directly on real stores (SQLite in memory, and Postgres when the test
//! run provides `DATABASE_URL`), with the clock in the test's hands.

mod assembly;
mod chunks;
mod harness;
mod pairs;
mod replay;
