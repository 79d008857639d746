//! Backup and restore contracts.

use super::engine;
use crate::merge::MergePolicy;
use crate::*;

/// Fills a store with every kind of record and change: a pipeline edited
/// after use, customers updated and merged, deals won, lost and reopened,
/// activities and completed tasks.
pub(super) fn fill<S: Store>(crm: &Crm<S>, clock: &ManualClock) {
    let s = crm.as_actor(Actor::System);
    let north = s.create_team(NewTeam::new("North")).expect("team");
    let rep_user = s
        .create_user(
            NewUser::new("Maria", "maria@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("user");
    let rep = crm.as_user(rep_user.id);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    s.set_custom_fields(
        EntityKind::Customer,
        0,
        vec![
            crate::custom_field::FieldDef::new(
                "tier",
                "Tier",
                crate::custom_field::FieldType::Enum,
            )
            .options(["gold", "silver"]),
        ],
    )
    .expect("custom fields");
    let acme = rep
        .create_customer(
            NewCustomer::organisation("ACME GmbH")
                .email("info@acme.example")
                .phone("+49 30 1234567")
                .tag("vip")
                .custom(
                    "tier",
                    crate::custom_field::CustomValue::Text("gold".into()),
                ),
        )
        .expect("acme");
    let ada = rep
        .create_customer(NewCustomer::person("Ada").works_at(acme.id))
        .expect("ada");
    let dup = rep
        .create_customer(NewCustomer::organisation("Acme").email("sales@acme.example"))
        .expect("dup");
    clock.advance(chrono::Duration::hours(3));
    let won = rep
        .create_deal(
            NewDeal::new(acme.id, p.id, "Robots")
                .amount(Money::parse("48000.10", "EUR").expect("money"))
                .expected_close_date(
                    chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default(),
                ),
        )
        .expect("deal");
    let won = rep
        .move_deal(won.id, won.version, "proposal")
        .expect("move");
    clock.advance(chrono::Duration::days(2));
    let won = rep.win_deal(won.id, won.version).expect("win");
    let lost = rep
        .create_deal(NewDeal::new(dup.id, p.id, "Spares"))
        .expect("deal");
    let lost = rep
        .lose_deal(lost.id, lost.version, "Budget")
        .expect("lose");
    rep.reopen_deal(lost.id, lost.version, None)
        .expect("reopen");
    let task = rep
        .log_activity(
            NewActivity::task("Call back", clock.now() + chrono::Duration::days(1)).deal(won.id),
        )
        .expect("task");
    clock.advance(chrono::Duration::hours(1));
    rep.complete_task(task.id, task.version).expect("complete");
    rep.log_activity(
        NewActivity::new(ActivityKind::Email, "Offer")
            .customer(ada.id)
            .direction(Direction::Outbound)
            .body("Attached: offer.pdf"),
    )
    .expect("email");
    let acme = s.customer(acme.id).expect("acme");
    let dup = s.customer(dup.id).expect("dup");
    s.merge_customers(
        acme.id,
        acme.version,
        dup.id,
        dup.version,
        &MergePolicy::default(),
    )
    .expect("merge");
    let p = s.pipeline(p.id).expect("pipeline");
    s.update_pipeline(
        p.id,
        p.version,
        PipelineDef::sales_template("Sales (2025)"),
        &Default::default(),
    )
    .expect("rename");
    s.create_segment("VIPs", "tag:vip".parse().expect("expression"))
        .expect("segment");
}

/// A backup restored into an empty store (of another backend, even)
/// gives back every record and event exactly: backing the copy up gives
/// the same file byte for byte.
pub fn backup_then_restore_is_lossless<S: Store, T: Store>(source: S, target: T) {
    let (crm, clock) = engine(source);
    fill(&crm, &clock);
    let s = crm.as_actor(Actor::System);
    let mut first = Vec::new();
    let counts = s.backup(&mut first).expect("backup");
    assert_eq!(
        counts,
        crate::backup::BackupCounts {
            teams: 1,
            users: 1,
            field_schemas: 1,
            segments: 1,
            pipelines: 1,
            customers: 3,
            deals: 2,
            activities: 2,
            // team, user, pipeline, custom fields, 3 customers, deal +
            // move + win, deal + lose + reopen, task + complete, e-mail,
            // merge, pipeline edit, segment
            events: 19,
            ..Default::default()
        }
    );
    let text = String::from_utf8(first.clone()).unwrap_or_default();
    assert!(text.starts_with(&format!(
        "{{\"header\":{{\"format\":\"crm-core backup\",\"version\":{}}}}}\n",
        crate::backup::VERSION
    )));
    assert_eq!(text.lines().count(), 1 + 1 + 1 + 1 + 1 + 3 + 2 + 2 + 1 + 19);

    let copy = Crm::new(target);
    let restored = copy
        .as_actor(Actor::System)
        .restore(first.as_slice())
        .expect("restore");
    assert_eq!(restored, counts);
    let mut second = Vec::new();
    copy.as_actor(Actor::System)
        .backup(&mut second)
        .expect("backup of the copy");
    assert_eq!(
        String::from_utf8(second).unwrap_or_default(),
        text,
        "the copy's backup differs"
    );
    // And the copy works on from there: the next event continues the log.
    let c = copy
        .as_actor(Actor::System)
        .create_customer(NewCustomer::person("After"))
        .expect("create after restore");
    let last = copy
        .as_actor(Actor::System)
        .events(&EventQuery::new().limit(100))
        .expect("events")
        .items
        .pop()
        .expect("an event");
    assert_eq!((last.seq, last.entity.id), (20, c.id.as_uuid()));
}

/// A damaged backup, or a store that is not empty, restores nothing and
/// the error names the line. `source` holds the backup's data, `store`
/// is restored into.
pub fn restore_refuses_damaged_backups<S: Store, T: Store>(source: S, store: T) {
    let (crm, clock) = engine(source);
    fill(&crm, &clock);
    let mut file = Vec::new();
    crm.as_actor(Actor::System)
        .backup(&mut file)
        .expect("backup");
    let text = String::from_utf8(file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let event_lines: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("{\"event\""))
        .map(|(i, _)| i)
        .collect();
    let line_of = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or(0)
    };
    let deal_line = line_of("{\"deal\"");
    let pipeline_line = line_of("{\"pipeline\"");
    let schema_line = line_of("{\"field_schema\"");
    let first_customer = line_of("{\"customer\"");
    let without = |skip: usize| -> String {
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    };
    let cases: Vec<(String, u64, &str)> = vec![
        (String::new(), 0, "the file is empty"),
        (
            text.replacen(
                &format!("\"version\":{}", crate::backup::VERSION),
                "\"version\":9",
                1,
            ),
            1,
            "format version 9",
        ),
        (
            text.replacen("{\"header\"", "{\"heading\"", 1),
            1,
            "is not a backup record",
        ),
        // Drop the pipeline: the first deal's pipeline is missing.
        (
            without(pipeline_line),
            deal_line as u64,
            "which is not earlier in the backup",
        ),
        // Drop the custom fields: ACME's value has no field.
        (
            without(schema_line),
            first_customer as u64,
            "unknown custom field",
        ),
        // Drop the second event: the third is out of place.
        (
            without(event_lines[1]),
            event_lines[1] as u64 + 1,
            "event number 3 comes where number 2 belongs",
        ),
    ];
    let target = Crm::new(store);
    let t = target.as_actor(Actor::System);
    for (file, line, reason) in cases {
        match t.restore(file.as_bytes()) {
            Err(Error::Backup { line: l, reason: r }) => {
                assert_eq!(l, line, "line of {reason:?} ({r})");
                assert!(r.contains(reason), "{r:?} should say {reason:?}");
            }
            other => panic!("expected a backup error saying {reason:?}, got {other:?}"),
        }
        let tx = target.store().read().expect("read");
        assert_eq!(
            tx.last_event_seq().expect("seq"),
            0,
            "a failed restore left events"
        );
        assert_eq!(
            tx.count_customers(&CustomerFilter {
                include_merged: true,
                ..CustomerFilter::default()
            })
            .expect("count"),
            0,
            "a failed restore left customers"
        );
    }
    // Into a store that holds something: refused.
    t.create_customer(NewCustomer::person("Existing"))
        .expect("create");
    match t.restore(text.as_bytes()) {
        Err(Error::Backup { line: 0, reason }) => assert!(reason.contains("empty store")),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Restore reads a backup line by line without holding more than
/// [`MAX_BACKUP_LINE_BYTES`](crate::limits::MAX_BACKUP_LINE_BYTES) of one
/// line: a longer line (a damaged file without line breaks) is refused
/// naming its number; a record written as a positional array is refused
/// like a request; nothing is restored.
pub fn restore_bounds_lines_and_refuses_positional_records<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let header = format!(
        r#"{{"header":{{"format":"{}","version":{}}}}}"#,
        crate::backup::FORMAT,
        crate::backup::VERSION
    );
    let max = crate::limits::MAX_BACKUP_LINE_BYTES;
    let long = format!("{header}\n{}\n", "x".repeat(max + 1));
    match s.restore(long.as_bytes()) {
        Err(Error::Backup { line, reason }) => {
            assert_eq!(line, 2);
            assert!(reason.contains("longer than 16777216 bytes"), "{reason}");
        }
        other => panic!("an overlong line: {other:?}"),
    }
    // A positional header (which serde would read field by field).
    let positional = format!(
        "{{\"header\":[\"{}\",{}]}}\n",
        crate::backup::FORMAT,
        crate::backup::VERSION
    );
    match s.restore(positional.as_bytes()) {
        Err(Error::Backup { line, reason }) => {
            assert_eq!(line, 1);
            assert!(reason.contains("found an array"), "{reason}");
        }
        other => panic!("a positional record: {other:?}"),
    }
    assert_eq!(
        s.count_customers(&CustomerFilter::default())
            .expect("count"),
        0
    );
    // The header alone (with a Windows line break) restores an empty store.
    s.restore(format!("{header}\r\n").as_bytes())
        .expect("an empty backup");
}
