//! CSV import of customers, deals and activities. The first byte picks
//! the entity (and the header names: the example files' own, or the
//! engine's), the second the policy (all-or-nothing, skip invalid, dry
//! run); the rest is the file. A refused import, a dry run and an
//! all-or-nothing import with a problem change nothing; a successful one
//! leaves a consistent store.
#![no_main]

use crm_core::Actor;
use crm_core::import::{ImportOptions, ImportPolicy};
use crm_fuzz::{Fixture, assert_outcome, customer_columns, deal_columns, snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [entity, policy, csv @ ..] = data else {
        return;
    };
    let fx = Fixture::new();
    let csv = fx.expand(&String::from_utf8_lossy(csv));
    let s = fx.crm.as_actor(Actor::System);
    let mut options = ImportOptions::default();
    options = match policy % 3 {
        0 => options.policy(ImportPolicy::AllOrNothing),
        1 => options.policy(ImportPolicy::SkipInvalid),
        _ => options.dry_run(true),
    };
    let example_headers = entity & 0x80 != 0;
    let before = snapshot(&fx.crm);
    let result = match entity % 3 {
        0 => {
            if example_headers {
                options = options.columns(customer_columns());
            }
            s.import_customers(csv.as_bytes(), &options)
        }
        1 => {
            if example_headers {
                options = options.columns(deal_columns());
            }
            s.import_deals(csv.as_bytes(), &options)
        }
        _ => s.import_activities(csv.as_bytes(), &options),
    };
    assert_outcome(&fx.crm, &before, &result, "import");
    if let Ok(report) = &result {
        let unchanged = options.dry_run
            || (matches!(options.policy, ImportPolicy::AllOrNothing) && !report.problems.is_empty());
        if unchanged {
            assert!(
                snapshot(&fx.crm) == before,
                "a dry run or a refused all-or-nothing import wrote something"
            );
        }
    }
});
