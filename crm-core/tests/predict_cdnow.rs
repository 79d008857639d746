//! End to end on the CDNOW transaction log (the fixture in
//! `tests/fixtures/cdnow/`): every purchase recorded as a won deal through
//! the facade, purchase summaries built by the KPI module, and the fit on
//! the first 39 weeks gives Fader, Hardie & Lee's published parameters
//! (the same as fitting the published summary file, see
//! `src/predict/cdnow.rs`).

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use crm_core::predict::{FitOptions, Observation, Week};
use crm_core::{Actor, Crm, Currency, Money, NewCustomer, NewDeal, PipelineDef};
use crm_store_memory::MemoryStore;
use rust_decimal::Decimal;

const SAMPLE: &str = include_str!("fixtures/cdnow/CDNOW_sample.txt");

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want} ± {tol}");
}

#[test]
fn cdnow_log_through_the_facade_gives_the_published_fits() {
    let crm = Crm::new(MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("CDs"))
        .unwrap();
    let mut lines = 0;
    s.batch(|b| {
        let mut ids = BTreeMap::new();
        for line in SAMPLE.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 5, "{line:?}");
            let day = NaiveDate::parse_from_str(f[2], "%Y%m%d").unwrap();
            b.set_time(Some(
                Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).unwrap()),
            ));
            let id = match ids.get(f[1]) {
                Some(id) => *id,
                None => {
                    let c = b.create_customer(NewCustomer::person(f[1]))?;
                    ids.insert(f[1], c.id);
                    c.id
                }
            };
            let amount: Decimal = f[4].parse().unwrap();
            let d = b.create_deal(
                NewDeal::new(id, p.id, "CDs").amount(Money::new(amount, Currency::USD)),
            )?;
            b.win_deal(d.id, d.version)?;
            lines += 1;
        }
        assert_eq!(ids.len(), 2_357);
        Ok(())
    })
    .unwrap();
    assert_eq!(lines, 6_919);

    // Calibration: the first 39 weeks, to 1997-09-30 inclusive.
    let end = Utc.with_ymd_and_hms(1997, 9, 30, 23, 59, 59).unwrap();
    let obs = Observation::new(end, Currency::USD);
    let fit = s.fit_bgnbd::<Week>(&obs, &FitOptions::default()).unwrap();
    assert_eq!(fit.customers, 2_357);
    let m = fit.model;
    close(m.r(), 0.243, 0.005);
    close(m.alpha(), 4.414, 0.005);
    close(m.a(), 0.793, 0.005);
    close(m.b(), 2.426, 0.005);
    close(fit.log_likelihood, -9582.4, 0.05);
    let gg = s.fit_gamma_gamma(&obs, 0.0).unwrap();
    assert_eq!(gg.customers, 946);
    assert_eq!(gg.left_out.no_repeat_purchase, 1_411);
    close(gg.model.p(), 6.25, 0.005);
    close(gg.model.q(), 3.74, 0.005);
    close(gg.model.v(), 15.44, 0.01);
}
