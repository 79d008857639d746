//! Deals in their pipelines: a pipeline edit remaps deals, and random
//! operation sequences never leave a deal in a state its pipeline forbids.

use super::*;

/// Editing a pipeline: dropping a stage with deals needs a mapping; with
/// one, the deals move and the edit records one event.
pub fn pipeline_edit_remaps_deals<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let c = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    let d1 = s
        .create_deal(NewDeal::new(c.id, p.id, "One").stage("qualified"))
        .expect("deal");
    let d2 = s
        .create_deal(NewDeal::new(c.id, p.id, "Two").stage("qualified"))
        .expect("deal");
    let d3 = s
        .create_deal(NewDeal::new(c.id, p.id, "Three"))
        .expect("deal");
    clock.advance(Duration::hours(1));
    let without_qualified = PipelineDef::new("Sales v2")
        .stage(StageDef::open("lead", "Lead", 10))
        .stage(StageDef::open("demo", "Demo", 40))
        .stage(StageDef::won("won", "Won"))
        .stage(StageDef::lost("lost", "Lost").guard(StageGuard::RequiresLostReason));
    let before = snapshot(&s);
    match s.update_pipeline(
        p.id,
        p.version,
        without_qualified.clone(),
        &StageMapping::new(),
    ) {
        Err(Error::StageMappingRequired {
            stage, deals: 2, ..
        }) => assert_eq!(stage, "qualified"),
        other => panic!("dropping a stage with deals needs a mapping, got {other:?}"),
    }
    let to_won: StageMapping = [("qualified".to_owned(), "won".to_owned())].into();
    assert!(
        s.update_pipeline(p.id, p.version, without_qualified.clone(), &to_won)
            .is_err(),
        "open deals mapped to a won stage"
    );
    assert!(
        snapshot(&s) == before,
        "refused pipeline edit changed something"
    );

    let mapping: StageMapping = [("qualified".to_owned(), "demo".to_owned())].into();
    let p2 = s
        .update_pipeline(p.id, p.version, without_qualified, &mapping)
        .expect("edit");
    assert_eq!(
        (p2.version, p2.name.as_str(), p2.stages.len()),
        (2, "Sales v2", 4)
    );
    for d in [d1, d2] {
        let moved = s.deal(d.id).expect("deal");
        assert_eq!(moved.stage, "demo");
        assert_eq!(moved.version, 2);
        let last = moved.history.last().expect("history");
        assert_eq!(
            (last.from.as_ref().map(|k| k.as_str()), last.to.as_str()),
            (Some("qualified"), "demo")
        );
    }
    assert_eq!(
        s.deal(d3.id).expect("deal").version,
        1,
        "deals in kept stages are untouched"
    );
    let events = all_events(crm.store());
    assert_eq!(
        events.len(),
        before.4.len() + 1,
        "a pipeline edit appends exactly one event"
    );
    let last = events.last().expect("event");
    assert!(
        last.changes.iter().any(|c| c.field == "moved_deals"),
        "the edit's event lists the moved deals"
    );
    verify::assert_consistent(&crm);
}

#[derive(Debug, Clone)]
pub(super) enum DealOp {
    Move(usize),
    Win,
    Lose(bool),
    Reopen(Option<usize>),
    SetAmount(bool),
    SetCloseDate(bool),
    SetOwner(bool),
    Stale,
}

pub(super) fn deal_op() -> impl Strategy<Value = DealOp> {
    prop_oneof![
        4 => (0usize..8).prop_map(DealOp::Move),
        1 => Just(DealOp::Win),
        1 => any::<bool>().prop_map(DealOp::Lose),
        1 => proptest::option::of(0usize..8).prop_map(DealOp::Reopen),
        1 => any::<bool>().prop_map(DealOp::SetAmount),
        1 => any::<bool>().prop_map(DealOp::SetCloseDate),
        1 => any::<bool>().prop_map(DealOp::SetOwner),
        1 => Just(DealOp::Stale),
    ]
}

pub(super) fn check_deal_invariants(
    deal: &Deal,
    p: &Pipeline,
) -> std::result::Result<(), TestCaseError> {
    let stage = p
        .stage(&deal.stage)
        .ok_or_else(|| TestCaseError::fail("deal in a stage its pipeline lacks"))?;
    prop_assert_eq!(
        deal.status,
        DealStatus::from(stage.kind),
        "status follows the stage kind"
    );
    prop_assert_eq!(
        deal.history.last().map(|c| &c.to),
        Some(&deal.stage),
        "history replays to the current stage"
    );
    prop_assert!(
        deal.history[0].from.is_none(),
        "history starts with the first stage"
    );
    for w in deal.history.windows(2) {
        prop_assert_eq!(w[1].from.as_ref(), Some(&w[0].to), "history entries chain");
        prop_assert!(w[1].at >= w[0].at, "history is in time order");
        let (from, to) = (p.stage(&w[0].to), p.stage(&w[1].to));
        let (Some(from), Some(to)) = (from, to) else {
            return Err(TestCaseError::fail("history names unknown stages"));
        };
        prop_assert!(
            p.check_move(from, to).is_ok(),
            "history contains a move the pipeline forbids: {} -> {}",
            from.key,
            to.key
        );
    }
    prop_assert_eq!(
        deal.won_at.is_some(),
        deal.status == DealStatus::Won,
        "won_at iff won"
    );
    prop_assert_eq!(
        deal.lost_at.is_some(),
        deal.status == DealStatus::Lost,
        "lost_at iff lost"
    );
    if deal.lost_reason.is_some() {
        prop_assert_eq!(deal.status, DealStatus::Lost);
    }
    Ok(())
}

/// Random operation sequences on deals never leave a deal in a state its
/// pipeline forbids; its history always replays to its current stage;
/// every successful change appends exactly one event and bumps the version
/// by one; every failed one changes nothing and appends nothing.
pub fn deal_state_machine_holds_under_random_operations<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    crate::testing::seed_users(
        crm.store(),
        [1, 2].map(|i| UserId::from_uuid(uuid::Uuid::from_u128(i))),
    );
    let s = crm.as_actor(Actor::System);
    let c = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("customer");
    let mut runner = runner(48);
    runner
        .run(
            &(
                strategies::pipeline_def(),
                proptest::collection::vec(deal_op(), 1..30),
            ),
            |(def, ops)| {
                let p = s.create_pipeline(def).expect("valid generated pipeline");
                // The first stage may have guards: start with every guarded field set.
                let input = NewDeal::new(c.id, p.id, "Deal")
                    .amount(Money::parse("500", "EUR").expect("money"))
                    .expected_close_date(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default())
                    .owner(UserId::from_uuid(uuid::Uuid::from_u128(2)));
                let mut deal = s.create_deal(input).expect("deal");
                for op in ops {
                    clock.advance(Duration::minutes(1));
                    let seq_before = crm
                        .store()
                        .read()
                        .expect("read")
                        .last_event_seq()
                        .expect("seq");
                    let key = |i: usize| p.stages[i % p.stages.len()].key.as_str().to_owned();
                    let result = match &op {
                        DealOp::Move(i) => s.move_deal(deal.id, deal.version, &key(*i)),
                        DealOp::Win => s.win_deal(deal.id, deal.version),
                        DealOp::Lose(with_reason) => {
                            let lost: Vec<&Stage> = p.stages_of_kind(StageKind::Lost).collect();
                            s.lose_deal_in(
                                deal.id,
                                deal.version,
                                lost[0].key.as_str(),
                                if *with_reason { "Too expensive" } else { "" },
                            )
                        }
                        DealOp::Reopen(i) => {
                            s.reopen_deal(deal.id, deal.version, i.map(key).as_deref())
                        }
                        DealOp::SetAmount(set) => s.update_deal(
                            deal.id,
                            deal.version,
                            DealPatch::default()
                                .amount(set.then(|| Money::parse("990.00", "EUR").expect("money"))),
                        ),
                        DealOp::SetCloseDate(set) => {
                            s.update_deal(
                                deal.id,
                                deal.version,
                                DealPatch::default().expected_close_date(set.then(|| {
                                    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default()
                                })),
                            )
                        }
                        DealOp::SetOwner(set) => s.update_deal(
                            deal.id,
                            deal.version,
                            DealPatch::default()
                                .owner(set.then(|| UserId::from_uuid(uuid::Uuid::from_u128(1)))),
                        ),
                        DealOp::Stale => s.move_deal(
                            deal.id,
                            deal.version.saturating_sub(1).max(1)
                                + if deal.version == 1 { 1 } else { 0 },
                            &key(0),
                        ),
                    };
                    let seq_after = crm
                        .store()
                        .read()
                        .expect("read")
                        .last_event_seq()
                        .expect("seq");
                    let stored = s.deal(deal.id).expect("deal");
                    match result {
                        Ok(next) => {
                            prop_assert_eq!(&stored, &next, "returned deal equals stored deal");
                            if next.version == deal.version {
                                prop_assert_eq!(
                                    seq_after,
                                    seq_before,
                                    "a no-op update appends no event"
                                );
                            } else {
                                prop_assert_eq!(
                                    next.version,
                                    deal.version + 1,
                                    "a change bumps the version by one"
                                );
                                prop_assert_eq!(
                                    seq_after,
                                    seq_before + 1,
                                    "a change appends exactly one event ({:?})",
                                    op
                                );
                            }
                            deal = next;
                        }
                        Err(_) => {
                            prop_assert_eq!(
                                &stored,
                                &deal,
                                "a failed operation changed the deal ({:?})",
                                op
                            );
                            prop_assert_eq!(
                                seq_after,
                                seq_before,
                                "a failed operation appended an event ({:?})",
                                op
                            );
                        }
                    }
                    check_deal_invariants(&deal, &p)?;
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("deal state machine property failed: {e}"));
}

#[derive(Debug, Clone)]
pub(super) enum AnyOp {
    CreateCustomer {
        person: bool,
        good_email: bool,
        org: Option<usize>,
    },
    SetLifecycle {
        who: usize,
        to: Lifecycle,
        stale: bool,
    },
    Tag {
        who: usize,
        tag: &'static str,
    },
    LogActivity {
        kind: ActivityKind,
        who: Option<usize>,
    },
    CompleteTask {
        which: usize,
    },
    CreatePipeline {
        valid: bool,
    },
    CreateDeal {
        who: usize,
        start: &'static str,
    },
}

pub(super) fn any_op() -> impl Strategy<Value = AnyOp> {
    let lifecycle = prop_oneof![
        Just(Lifecycle::Lead),
        Just(Lifecycle::Prospect),
        Just(Lifecycle::Customer),
        Just(Lifecycle::Churned)
    ];
    let kind = prop_oneof![
        Just(ActivityKind::Call),
        Just(ActivityKind::Note),
        Just(ActivityKind::Task)
    ];
    prop_oneof![
        3 => (any::<bool>(), any::<bool>(), proptest::option::of(0usize..6)).prop_map(|(person, good_email, org)| AnyOp::CreateCustomer { person, good_email, org }),
        2 => (0usize..6, lifecycle, proptest::bool::weighted(0.2)).prop_map(|(who, to, stale)| AnyOp::SetLifecycle { who, to, stale }),
        1 => (0usize..6, prop_oneof![Just("vip"), Just("VIP "), Just("bad tag!")]).prop_map(|(who, tag)| AnyOp::Tag { who, tag }),
        2 => (kind, proptest::option::of(0usize..6)).prop_map(|(kind, who)| AnyOp::LogActivity { kind, who }),
        1 => (0usize..6).prop_map(|which| AnyOp::CompleteTask { which }),
        1 => any::<bool>().prop_map(|valid| AnyOp::CreatePipeline { valid }),
        2 => (0usize..6, prop_oneof![Just("lead"), Just("proposal"), Just("won"), Just("nope")]).prop_map(|(who, start)| AnyOp::CreateDeal { who, start }),
    ]
}
