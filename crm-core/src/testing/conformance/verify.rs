//! Consistency-check contracts: a store the facade wrote verifies clean,
//! and restore refuses a backup that would give an inconsistent store.

use serde_json::Value;

use super::backup::fill;
use super::{engine, runner};
use crate::verify::{Check, Finding};
use crate::*;

/// Asserts that `crm`'s store verifies clean (used by other conformance
/// tests after their workflows).
pub(super) fn assert_consistent<S: Store>(crm: &Crm<S>) {
    let findings = crm.as_actor(Actor::System).verify().expect("verify");
    assert!(
        findings.is_empty(),
        "the store should be consistent: {}",
        findings
            .iter()
            .map(Finding::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// A store filled through the facade with every kind of change (merge,
/// pipeline edit that moves deals, won/lost/reopened deals, completed
/// tasks, custom fields, a deleted segment, an automation rule and its
/// notification) verifies clean; only an administrator may run the check.
pub fn verify_finds_nothing_in_a_consistent_store<S: Store>(new_store: impl Fn() -> S) {
    let (crm, clock) = engine(new_store());
    assert!(
        crm.as_actor(Actor::System)
            .verify()
            .expect("empty")
            .is_empty()
    );
    fill(&crm, &clock);
    let s = crm.as_actor(Actor::System);
    // A deleted segment leaves its events behind.
    let seg = s
        .create_segment("Leads", "tag:lead".parse().expect("expr"))
        .expect("segment");
    s.delete_segment(seg.id, seg.version).expect("delete");
    // A pipeline edit that drops a stage moves its deals (no event of
    // their own: the pipeline's event lists them).
    let p = s
        .pipelines(&Default::default())
        .expect("pipelines")
        .items
        .remove(0);
    let customer = s
        .customers(&Default::default())
        .expect("customers")
        .items
        .remove(0);
    let d = s
        .create_deal(NewDeal::new(customer.id, p.id, "Moved"))
        .expect("deal");
    let d = s.move_deal(d.id, d.version, "qualified").expect("move");
    let mut def = PipelineDef::sales_template("Sales (no qualified)");
    def.stages.retain(|st| st.key != "qualified");
    let mapping: crate::pipeline::StageMapping =
        [("qualified".to_owned(), "proposal".to_owned())].into();
    let p = s.pipeline(p.id).expect("pipeline");
    s.update_pipeline(p.id, p.version, def, &mapping)
        .expect("pipeline edit");
    let moved = s.deal(d.id).expect("deal");
    assert_eq!(
        (moved.stage.as_str(), moved.version),
        ("proposal", d.version + 1)
    );
    assert_consistent(&crm);
    // Such a store backs up and restores (a deal's history naming the
    // removed stage used to be refused by restore), into a consistent copy.
    let mut file = Vec::new();
    s.backup(&mut file).expect("backup");
    let copy = Crm::new(new_store());
    copy.as_actor(Actor::System)
        .restore(file.as_slice())
        .expect("restore after a stage was removed");
    assert_consistent(&copy);

    // Anyone but an administrator is refused, without a finding.
    let team = s.create_team(NewTeam::new("South")).expect("team");
    let rep = s
        .create_user(
            NewUser::new("Rep", "rep@example.com")
                .role(AccessRole::SalesRep)
                .team(team.id),
        )
        .expect("rep");
    match crm.as_user(rep.id).verify() {
        Err(Error::PermissionDenied { .. }) | Err(Error::FieldHidden { .. }) => {}
        other => panic!("a sales rep must not run verify, got {other:?}"),
    }
    assert_consistent(&crm);
}

/// The lines of a backup of [`fill`]'s store.
fn backup_lines<S: Store>(store: S) -> Vec<String> {
    let (crm, clock) = engine(store);
    fill(&crm, &clock);
    let mut file = Vec::new();
    crm.as_actor(Actor::System)
        .backup(&mut file)
        .expect("backup");
    String::from_utf8(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn join(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Asserts that nothing at all is in `crm`'s store.
fn assert_empty<S: Store>(crm: &Crm<S>) {
    let tx = crm.store().read().expect("read");
    assert_eq!(tx.last_event_seq().expect("seq"), 0, "events left behind");
    let everyone = CustomerFilter {
        include_merged: true,
        ..CustomerFilter::default()
    };
    assert_eq!(tx.count_customers(&everyone).expect("count"), 0);
    assert_eq!(tx.count_deals(&Default::default()).expect("count"), 0);
    assert!(tx.users(&Query::new()).expect("users").items.is_empty());
    assert!(tx.teams(&Query::new()).expect("teams").items.is_empty());
    assert!(
        tx.pipelines(&Query::new())
            .expect("pipelines")
            .items
            .is_empty()
    );
}

fn set(line: &str, key: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    if let Some(Value::Object(record)) = v.as_object_mut().and_then(|o| o.values_mut().next()) {
        record.insert(key.to_owned(), value);
    }
    v.to_string()
}

/// Backups whose every line looks right but whose whole breaks an
/// invariant are refused: the error names the line of the record at
/// fault and the finding, and nothing is restored. These are the
/// mutations issue 15 found restore accepting.
pub fn restore_refuses_inconsistent_backups<S: Store>(new_store: impl Fn() -> S) {
    let lines = backup_lines(new_store());
    let find = |prefix: &str, contains: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix) && l.contains(contains))
            .unwrap_or_else(|| panic!("no {prefix} line with {contains}"))
    };
    let stranger = "01000000-0000-7000-8000-00000000beef";

    // 1. An extra event about a customer that does not exist.
    let last_event = lines
        .iter()
        .rposition(|l| l.starts_with("{\"event\""))
        .expect("an event");
    let mut extra = lines.clone();
    let seq = lines.iter().filter(|l| l.starts_with("{\"event\"")).count() as u64 + 1;
    let ev = set(&lines[last_event], "seq", Value::from(seq));
    let ev = set(
        &ev,
        "id",
        Value::from("01000000-0000-7000-8000-0000000e0001"),
    );
    let ev = set(
        &ev,
        "entity",
        serde_json::json!({"kind": "customer", "id": stranger}),
    );
    let ev = set(&ev, "version", Value::from(1));
    let ev = set(&ev, "kind", Value::from("created"));
    extra.insert(last_event + 1, ev);
    let extra_line = last_event as u64 + 2;

    // 2. The e-mail activity at version 5 with one event.
    let email = find("{\"activity\"", "\"Offer\"");
    let mut v5 = lines.clone();
    v5[email] = set(&lines[email], "version", Value::from(5));

    // 3. The lost-and-reopened deal with another id.
    let spares = find("{\"deal\"", "\"Spares\"");
    let mut renamed = lines.clone();
    renamed[spares] = set(&lines[spares], "id", Value::from(stranger));

    let cases: Vec<(Vec<String>, u64, Check, &str)> = vec![
        (extra, extra_line, Check::Reference, "which does not exist"),
        (
            v5,
            email as u64 + 1,
            Check::Events,
            "it is at version 5, and the log accounts for 1 version(s)",
        ),
        (
            renamed,
            spares as u64 + 1,
            Check::Events,
            "and the log accounts for 0 version(s)",
        ),
    ];
    for (file, line, check, says) in cases {
        let target = Crm::new(new_store());
        match target
            .as_actor(Actor::System)
            .restore(join(&file).as_bytes())
        {
            Err(Error::Backup { line: l, reason }) => {
                assert_eq!(l, line, "line of {says:?} ({reason})");
                assert!(reason.contains(says), "{reason:?} should say {says:?}");
                assert!(
                    reason.contains(&format!("({check})")),
                    "{reason:?} should name the {check} check"
                );
            }
            other => panic!("expected a refusal saying {says:?}, got {other:?}"),
        }
        assert_empty(&target);
    }
    // The unmutated backup still restores, and verifies clean.
    let target = Crm::new(new_store());
    target
        .as_actor(Actor::System)
        .restore(join(&lines).as_bytes())
        .expect("the original restores");
    assert_consistent(&target);
}

/// `line` with the value at `path` (object keys and array indices below
/// the record) replaced by `value`.
fn set_at(line: &str, path: &[Value], value: Value) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    if let Some(record) = v.as_object_mut().and_then(|o| o.values_mut().next())
        && let Some(leaf) = leaf_mut(record, path)
    {
        *leaf = value;
    }
    v.to_string()
}

/// Records that each look right on their own but hold a value the engine
/// would never write, or a stage history that disagrees with the events
/// entry by entry, are refused by restore with a [`Check::Value`] or
/// [`Check::StageHistory`] finding naming the record's line.
pub fn restore_refuses_values_the_engine_never_writes<S: Store>(new_store: impl Fn() -> S) {
    let lines = backup_lines(new_store());
    let find = |prefix: &str, contains: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix) && l.contains(contains))
            .unwrap_or_else(|| panic!("no {prefix} line with {contains}"))
    };
    let robots = find("{\"deal\"", "\"Robots\"");
    let robots_id =
        serde_json::from_str::<Value>(&lines[robots]).unwrap_or(Value::Null)["deal"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    let pipeline = find("{\"pipeline\"", "\"stages\"");
    let lost_stage = serde_json::from_str::<Value>(&lines[pipeline]).unwrap_or(Value::Null)
        ["pipeline"]["stages"]
        .as_array()
        .and_then(|st| st.iter().position(|s| s["kind"] == "lost"))
        .expect("a lost stage");
    let created = lines
        .iter()
        .position(|l| {
            l.starts_with("{\"event\"") && l.contains(&robots_id) && l.contains("\"created\"")
        })
        .expect("the deal's created event");
    let stage_change =
        serde_json::from_str::<Value>(&lines[created]).unwrap_or(Value::Null)["event"]["changes"]
            .as_array()
            .and_then(|ch| ch.iter().position(|c| c["field"] == "stage"))
            .expect("the created event names the stage");

    let with = |i: usize, line: String| {
        let mut file = lines.clone();
        file[i] = line;
        file
    };
    let cases: Vec<(Vec<String>, usize, Check, &str)> = vec![
        // The won deal without its won time.
        (
            with(robots, set(&lines[robots], "won_at", Value::Null)),
            robots,
            Check::Value,
            "its won_at is missing, and the deal is won",
        ),
        // A lost reason on a won deal.
        (
            with(robots, set(&lines[robots], "lost_reason", Value::from("x"))),
            robots,
            Check::Value,
            "it has a lost reason, and the deal is won",
        ),
        // An amount beyond the bound (10^15).
        (
            with(
                robots,
                set(
                    &lines[robots],
                    "amount",
                    serde_json::json!({"amount": "2000000000000000", "currency": "EUR"}),
                ),
            ),
            robots,
            Check::Value,
            "amount",
        ),
        // The move to proposal dated before the deal's creation.
        (
            with(
                robots,
                set_at(
                    &lines[robots],
                    &[Value::from("history"), Value::from(1), Value::from("at")],
                    Value::from("2000-01-01T00:00:00Z"),
                ),
            ),
            robots,
            Check::StageHistory,
            "before it entered 'lead'",
        ),
        // The created event says the deal started in another stage than
        // its history does.
        (
            with(
                created,
                set_at(
                    &lines[created],
                    &[
                        Value::from("changes"),
                        Value::from(stage_change),
                        Value::from("new"),
                    ],
                    Value::from("qualified"),
                ),
            ),
            robots,
            Check::StageHistory,
            "entry 1 moves from nothing to 'lead', and the log records a move from nothing to qualified",
        ),
        // A lost stage with a chance of winning.
        (
            with(
                pipeline,
                set_at(
                    &lines[pipeline],
                    &[
                        Value::from("stages"),
                        Value::from(lost_stage),
                        Value::from("probability"),
                    ],
                    Value::from(5),
                ),
            ),
            pipeline,
            Check::Value,
            "a lost stage has probability 0",
        ),
    ];
    for (file, at, check, says) in cases {
        let target = Crm::new(new_store());
        match target
            .as_actor(Actor::System)
            .restore(join(&file).as_bytes())
        {
            Err(Error::Backup { line, reason }) => {
                assert_eq!(line, at as u64 + 1, "line of {says:?} ({reason})");
                assert!(reason.contains(says), "{reason:?} should say {says:?}");
                assert!(
                    reason.contains(&format!("({check})")),
                    "{reason:?} should name the {check} check"
                );
            }
            other => panic!("expected a refusal saying {says:?}, got {other:?}"),
        }
        assert_empty(&target);
    }
}

/// Every JSON leaf of `v`, as a path of object keys and array indices.
fn leaves(v: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, child) in o {
                path.push(Value::from(k.as_str()));
                leaves(child, path, out);
                path.pop();
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, child) in a.iter().enumerate() {
                path.push(Value::from(i));
                leaves(child, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn leaf_mut<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut at = v;
    for step in path {
        at = match step {
            Value::String(k) => at.get_mut(k.as_str())?,
            Value::Number(i) => at.get_mut(usize::try_from(i.as_u64()?).ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

/// A restored store the engine keeps working on: its own backup restores
/// again to the same backup, and the reads that walk every record
/// (KPI report, every saved segment, due automation) succeed.
fn assert_usable<S: Store>(crm: &Crm<S>, new_store: &impl Fn() -> S) {
    let s = crm.as_actor(Actor::System);
    let mut first = Vec::new();
    s.backup(&mut first).expect("a restored store backs up");
    let copy = Crm::new(new_store());
    copy.as_actor(Actor::System)
        .restore(first.as_slice())
        .expect("the backup of a restored store restores");
    let mut second = Vec::new();
    copy.as_actor(Actor::System)
        .backup(&mut second)
        .expect("backup");
    assert!(
        first == second,
        "a restored store's backup restores to something else"
    );
    s.kpi_report(&Default::default())
        .expect("the KPI report of a restored store");
    for seg in s.segments(&Default::default()).expect("segments").items {
        s.evaluate_segment(seg.id, &Default::default())
            .expect("a restored segment evaluates");
    }
    s.run_due(crm.now())
        .expect("due automation runs on a restored store");
}

/// Any single-field mutation of a valid backup (one JSON value of one
/// line replaced: a number moved by one or zeroed, a string replaced by
/// another string of the same file, such as another record's id, a
/// boolean flipped, a value nulled) is either refused by restore, leaving
/// the store empty, or restores a store that verifies clean and that the
/// engine keeps working on (see `assert_usable`).
pub fn restore_accepts_only_consistent_mutations<S: Store>(new_store: impl Fn() -> S) {
    let lines = backup_lines(new_store());
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    let mut strings: Vec<String> = Vec::new();
    let mut paths: Vec<(usize, Vec<Value>)> = Vec::new();
    for (i, v) in parsed.iter().enumerate() {
        let mut out = Vec::new();
        leaves(v, &mut Vec::new(), &mut out);
        for p in out {
            if let Some(Value::String(s)) = leaf_mut(&mut v.clone(), &p).map(|x| x.clone()) {
                strings.push(s);
            }
            paths.push((i, p));
        }
    }
    strings.sort();
    strings.dedup();
    let mut runner = runner(64);
    runner
        .run(
            &(0..paths.len(), 0..strings.len(), 0u8..6),
            |(which, other, how)| {
                let (line, path) = &paths[which];
                let mut v = parsed[*line].clone();
                let Some(leaf) = leaf_mut(&mut v, path) else {
                    return Ok(());
                };
                *leaf = match (&*leaf, how) {
                    (_, 0) => Value::Null,
                    (Value::Number(n), h) => {
                        let n = n.as_i64().unwrap_or(0);
                        Value::from(match h {
                            1 => n.saturating_add(1),
                            2 => n.saturating_sub(1),
                            _ => 0,
                        })
                    }
                    (Value::Bool(b), _) => Value::from(!b),
                    (Value::String(_), 1) => Value::from("x"),
                    _ => Value::from(strings[other].as_str()),
                };
                let mut file = lines.clone();
                file[*line] = v.to_string();
                let target = Crm::new(new_store());
                match target
                    .as_actor(Actor::System)
                    .restore(join(&file).as_bytes())
                {
                    Ok(_) => {
                        assert_consistent(&target);
                        assert_usable(&target, &new_store);
                    }
                    Err(_) => assert_empty(&target),
                }
                Ok(())
            },
        )
        .expect("every mutation is refused or restores a consistent store");
}
