//! The storage conformance suite.
//!
//! Every function here takes a fresh, empty store and checks one part of
//! the contract in [`crate::store`], either directly on the traits or
//! through the [`Crm`] facade. A backend runs them all with one line in its
//! tests:
//!
//! ```ignore
//! crm_core::store_conformance_tests!(crm_store_memory::MemoryStore::new());
//! ```
//!
//! The macro expands to one `#[test]` per contract, evaluating the
//! expression anew for each. Failures panic with a message saying which
//! part of the contract broke.

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

mod automation;
mod automation_rules;
mod backup;
mod bounds;
mod custom_field;
mod data_access;
mod external_keys;
mod extremes;
mod feed;
mod import;
mod import_plan;
mod invariants;
mod merge;
mod predict;
mod verify;
pub use automation::*;
pub use automation_rules::*;
pub use backup::*;
pub use bounds::*;
pub use custom_field::*;
pub use data_access::*;
pub use external_keys::*;
pub use extremes::*;
pub use feed::*;
pub use import::*;
pub use import_plan::*;
pub use invariants::*;
pub use merge::*;
pub use predict::*;
pub use verify::*;
// ----- access: scope-aware segment push-down -----
mod access_segments;
pub use access_segments::*;
// ----- access: nothing leaks through any path (issue 15 §3) -----
mod access_leaks;
pub use access_leaks::*;
// ----- the core contract, in rooms named after what they check -----
mod access_model;
mod deal_machine;
mod events;
mod failures;
mod field_rules;
mod listing;
mod segments;
mod store_contract;
mod users_teams;
pub use access_model::*;
pub use deal_machine::*;
pub use events::*;
pub use failures::*;
pub use field_rules::*;
pub use listing::*;
pub use segments::*;
pub use store_contract::*;
pub use users_teams::*;

use crate::query::{Filter, Order, Query, paginate};
use crate::testing::strategies;
use crate::*;

/// Expands to one `#[test]` per storage contract, each run on the store
/// `$factory` evaluates to.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::__store_conformance_tests!($factory;
            records_round_trip_exactly,
            insert_with_taken_id_fails,
            updates_are_compare_and_set,
            dropped_write_rolls_back_everything,
            write_sees_its_own_writes,
            events_are_numbered_without_gaps,
            listings_match_reference_pagination,
            invalid_cursor_is_rejected,
            failed_operations_change_nothing,
            batch_is_all_or_nothing,
            savepoints_undo_exactly_what_follows_them,
            attempt_skips_a_failed_step_only,
            concurrent_updates_never_lose_one,
            pipeline_edit_remaps_deals,
            deal_state_machine_holds_under_random_operations,
            every_change_appends_exactly_one_event,
            worked_example_sales_flow,
            import_all_or_nothing_reports_every_problem_and_writes_nothing,
            import_skip_invalid_writes_the_valid_rows,
            import_deals_keeps_history_and_rows_are_atomic,
            import_activities_with_completed_tasks,
            import_dry_run_finds_duplicates,
            import_reports_misaligned_rows_and_missing_columns,
            import_reads_custom_fields,
            import_plan_matches_by_email_and_says_what_each_row_does,
            import_plan_dry_run_writes_nothing,
            import_plan_updates_deals_through_their_rules,
            import_plan_reads_real_spreadsheets,
            import_plan_exports_failed_rows_to_fix_and_reimport,
            import_plan_unmatched_rows_and_activities,
            import_plan_keeps_the_actors_access,
            import_plan_dry_run_equals_real_run_for_any_file,
            merge_moves_everything_and_records_one_event,
            owners_and_assignees_must_be_active_users,
            stage_guards_hold_while_the_deal_is_in_the_stage,
            closed_deals_are_frozen_except_through_reopen_or_correction,
            amounts_are_bounded_at_every_door,
            rule_durations_are_bounded_and_old_rules_never_panic,
            sizes_are_bounded_with_clear_errors,
            aggregate_overflow_names_the_currency_and_the_figure,
            rule_values_refuse_positional_arrays,
            rules_never_assign_to_a_deactivated_owner,
            merges_keep_the_record_invariants,
            pipelines_are_bounded,
            rules_are_bounded,
            custom_field_definitions_are_bounded,
            csv_imports_are_bounded,
            restore_bounds_lines_and_refuses_positional_records,
            extreme_times_never_panic,
            imports_with_extreme_dates_never_panic,
            merge_refusals_change_nothing,
            custom_fields_are_defined_checked_and_versioned,
            data_paths_respect_access,
            merge_never_names_records_outside_the_read_scope,
            merged_into_is_named_only_when_readable,
            activity_deal_mismatch_names_no_hidden_customer,
            merge_obeys_the_field_rules_of_an_update,
            custom_field_schema_needs_a_role,
            hidden_custom_fields_never_leak,
            read_only_custom_fields_refuse_every_write,
            rules_cannot_read_or_write_past_their_authors_field_rules,
            rule_failures_name_no_hidden_record,
            // ----- segments -----
            saved_segments_are_versioned_audited_records,
            saved_segment_listing_matches_reference,
            scans_visit_every_record_once,
            segment_evaluation_matches_reference,
            segment_time_boundaries_match_reference,
            // ----- users, teams and access control -----
            users_and_teams_round_trip_and_list,
            owner_scoped_listings_match_reference,
            administration_is_permissioned_and_audited,
            field_rules_hide_and_protect,
            reads_under_random_actors_match_brute_force,
            // ----- automation -----
            automation_proposal_creates_task_for_owner,
            automation_won_deal_updates_customer_and_outbox,
            automation_failure_undoes_the_triggering_change,
            automation_cycles_are_refused,
            automation_rule_depth_is_configurable,
            automation_rules_are_versioned_audited_records,
            automation_run_due_fires_once_per_episode,
            automation_split_run_due_fires_like_one_call,
            automation_rule_undone_by_attempt_does_not_fire,
            // ----- access: scope-aware segment push-down -----
            segments_under_random_actors_match_brute_force,
            // ----- predictive models -----
            predicted_scores_are_written_in_one_event,
            // ----- automation, round two -----
            automation_event_triggers_worked_example,
            automation_date_reached_fires_once_per_date,
            automation_actions_worked_example,
            automation_first_response_sla,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_tests {
    ($factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::testing::conformance::$name($factory);
            }
        )*
    };
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default() // 2025-01-01
}

fn engine<S: Store>(store: S) -> (Crm<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let crm = Crm::new(store)
        .with_clock(clock.clone())
        .with_ids(SequentialIds::new(7));
    (crm, clock)
}

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn all_events<S: Store>(store: &S) -> Vec<Event> {
    let tx = store.read().expect("read tx");
    collect(|q| tx.events(q), EventQuery::new().limit(500))
}

fn collect<T, F, O: Clone, G>(mut fetch: G, mut q: Query<F, O>) -> Vec<T>
where
    G: FnMut(&Query<F, O>) -> std::result::Result<Page<T>, StoreError>,
{
    let mut out = Vec::new();
    loop {
        let page = fetch(&q).expect("listing failed");
        assert!(
            page.items.len() <= q.page.limit as usize,
            "page longer than its limit"
        );
        out.extend(page.items);
        match page.next {
            Some(c) => q.page.after = Some(c),
            None => return out,
        }
    }
}

fn to_store(e: Error) -> StoreError {
    StoreError::backend("facade read", e.to_string())
}
