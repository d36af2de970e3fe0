//! One conformance suite, run against both stores: every case is an `async fn(&dyn Store)` and
//! [`store_test_suite!`] turns it into `pg::<case>` and `sqlite::<case>` tests (after quickwit's
//! `metastore_test_suite!`). Each Postgres test gets a fresh database on the server of `DATABASE_URL`; each SQLite
//! test a fresh file.
#![allow(clippy::unwrap_used)]

mod conformance {
    pub mod access;
    pub mod attempts;
    pub mod audit;
    pub mod executions;
    pub mod fixtures;
    pub mod gates;
    pub mod gauges;
    pub mod hydrations;
    pub mod listing;
    pub mod nodes;
    pub mod outage;
    pub mod parking;
    pub mod registry;
    pub mod rules;
    pub mod schedules;
    pub mod timeouts;
}

use std::path::PathBuf;

use gantry_store::{PgStore, SqliteStore};
use uuid::Uuid;

pub use conformance::{
    access, attempts, audit, executions, fixtures, gates, gauges, hydrations, listing, nodes, outage, parking,
    registry, rules, schedules, timeouts,
};

/// The server the Postgres tests create their databases on.
fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is not set; run scripts/test")
}

/// A fresh Postgres database for one test, dropped when the test passes (a failed test leaves it for inspection).
#[derive(Debug)]
pub struct PgHarness {
    pub store: PgStore,
    admin_url: String,
    url: String,
}

impl PgHarness {
    pub async fn new() -> Self {
        let admin_url = admin_url();
        let (store, url) = PgStore::connect_fresh(&admin_url).await.unwrap();
        PgHarness { store, admin_url, url }
    }

    pub async fn finish(self) {
        self.store.close().await;
        PgStore::drop_fresh(&self.admin_url, &self.url).await.unwrap();
    }
}

/// A fresh SQLite file for one test, removed when the test passes.
#[derive(Debug)]
pub struct SqliteHarness {
    pub store: SqliteStore,
    path: PathBuf,
}

impl SqliteHarness {
    pub async fn new() -> Self {
        let path = std::env::temp_dir().join(format!("gantry-store-test-{}.db", Uuid::now_v7().simple()));
        let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        SqliteHarness { store, path }
    }

    pub async fn finish(self) {
        self.store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// `store_test_suite!(backend: module::case, ...)` makes a `#[tokio::test] async fn case()` in a module named
/// `backend` for each case.
macro_rules! store_test_suite {
    ($backend:ident, $harness:ident: $($module:ident::$case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let harness = super::$harness::new().await;
                    super::$module::$case(&harness.store).await;
                    harness.finish().await;
                }
            )*
        }
    };
}

macro_rules! both_stores {
    ($($module:ident::$case:ident),* $(,)?) => {
        store_test_suite!(pg, PgHarness: $($module::$case),*);
        store_test_suite!(sqlite, SqliteHarness: $($module::$case),*);
    };
}

both_stores!(
    audit::audit_entries_filter_and_page_newest_first,
    registry::put_resource_creates_then_is_idempotent_then_conflicts,
    registry::resource_kinds_are_separate,
    registry::a_template_with_a_plugin_payload_reads_back_identical,
    registry::list_resources_pages_in_name_version_order,
    registry::the_latest_version_is_the_one_registered_last,
    executions::insert_get_and_find_execution,
    executions::execution_name_conflict_keeps_transaction_usable,
    executions::lock_and_update_execution,
    executions::list_executions_filters_and_pages_newest_first,
    executions::invalid_page_tokens_are_rejected,
    listing::list_executions_by_target_time_and_search,
    executions::locked_read_modify_write_serialises,
    nodes::ten_thousand_children_round_trip,
    nodes::lock_nodes_and_children_return_only_existing,
    nodes::start_nodes_starts_only_queued_and_retry_waiting,
    nodes::node_key_conflict,
    nodes::abort_descendants_aborts_only_the_subtree,
    nodes::abort_whole_execution,
    nodes::nodes_creating_children_are_listed_until_all_are_created,
    nodes::assembling_nodes_and_executions_are_listed,
    nodes::descendants_of_some_phases_page_in_node_id_order,
    nodes::first_child_error_is_the_earliest_unsuccessful_child,
    schedules::schedules_are_activated_found_due_and_listed,
    schedules::archiving_a_project_deactivates_its_schedules,
    gates::gates_are_found_by_signal_and_deadline_until_disarmed,
    gates::a_signal_is_set_once_and_copied_to_a_recovery,
    gates::stale_gates_are_deleted_and_running_ones_kept,
    hydrations::hydrations_are_listed_until_deleted,
    hydrations::many_hydrations_take_multi_row_statements,
    parking::parked_attempts_count_and_unpark_oldest_first,
    parking::running_child_executions_below_a_node,
    parking::cache_entries_reservations_and_waiters,
    attempts::claim_respects_queue_not_before_limit_and_phase,
    rules::claims_pick_and_write_what_the_core_decides,
    rules::bulk_aborts_end_nodes_and_attempts_as_the_core_decides,
    rules::compacting_claims_changes_no_row,
    attempts::a_claim_takes_the_oldest_across_its_queues,
    attempts::sequential_claims_are_disjoint,
    attempts::concurrent_claimers_never_share_an_attempt,
    attempts::leases_not_before_and_ready_queues,
    attempts::lock_update_and_list_attempts,
    attempts::specs_insert_get_and_conflict,
    attempts::dropped_transaction_leaves_nothing,
    attempts::abort_node_attempts_touches_only_those_nodes,
    timeouts::claims_skip_past_queue_deadlines_and_start_the_run_deadline,
    timeouts::overdue_attempts_and_executions_and_the_next_deadline,
    timeouts::a_released_parked_attempt_gets_its_queue_deadline,
    outage::ping_answers,
    gauges::active_counts_count_only_unfinished_work,
    outage::renewing_leases_moves_running_ones_forward_only_and_is_idempotent,
    access::api_keys_insert_get_list_and_revoke,
    access::projects_create_list_and_archive,
    access::a_project_claim_takes_only_that_projects_attempts,
);

// Holding one transaction open while a second claims needs row locks: Postgres only (a second SQLite writer waits
// for the first to finish).
store_test_suite!(
    pg_only,
    PgHarness: attempts::open_claim_is_skipped_and_released_on_rollback,
    attempts::open_claims_across_queues_are_passed_over,
    rules::compacting_claims_shortens_the_claims_walk,
    access::a_project_claim_does_not_walk_other_projects_attempts,
);
