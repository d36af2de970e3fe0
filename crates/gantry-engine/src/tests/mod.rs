//! The engine's own tests: batches applied directly on real stores (SQLite in memory, and Postgres when the test
//! run provides `DATABASE_URL`), with the clock in the test's hands.

/// `on_both_stores!(case, ...)` makes `sqlite::case` and `postgres::case` tests of each `async fn case(Backend)`.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Backend::Postgres).await;
            })*
        }
    };
}

mod assembly;
mod chunks;
mod gates;
mod harness;
mod hashes;
mod hydration;
mod overrides;
mod pairs;
mod plugin;
mod replay;
mod schedules;
mod scoped;
mod tags;
mod watch;
