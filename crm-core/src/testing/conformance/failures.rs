//! Refused operations change nothing, batches are all or nothing, and
//! concurrent writers never lose an update.

use super::*;

/// Everything a store holds, as seen through the facade.
pub(super) type Snapshot = (
    Vec<Customer>,
    Vec<Deal>,
    Vec<Activity>,
    Vec<Pipeline>,
    Vec<Event>,
);

pub(super) fn snapshot<S: Store>(s: &Session<'_, S>) -> Snapshot {
    // Every page of each list: a property test that keeps one engine
    // across its cases can grow past any one page.
    fn all<T, F, O: Clone>(
        mut fetch: impl FnMut(&Query<F, O>) -> Result<Page<T>>,
        mut q: Query<F, O>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        loop {
            let page = fetch(&q).expect("list");
            out.extend(page.items);
            match page.next {
                Some(c) => q.page.after = Some(c),
                None => return out,
            }
        }
    }
    (
        all(|q| s.customers(q), CustomerQuery::new().limit(500)),
        all(|q| s.deals(q), DealQuery::new().limit(500)),
        all(|q| s.activities(q), ActivityQuery::new().limit(500)),
        all(|q| s.pipelines(q), PipelineQuery::new().limit(500)),
        all(|q| s.events(q), EventQuery::new().limit(500)),
    )
}

/// Every kind of refused operation leaves the store exactly as it was and
/// appends no event, and the error says what was wrong.
pub fn failed_operations_change_nothing<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let c = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    let person = s
        .create_customer(NewCustomer::person("Bob"))
        .expect("customer");
    let d = s
        .create_deal(NewDeal::new(c.id, p.id, "Deal"))
        .expect("deal");
    let task = s
        .log_activity(NewActivity::task("Call back", t0()).customer(c.id))
        .expect("task");
    let note = s
        .log_activity(NewActivity::new(ActivityKind::Note, "Note").customer(c.id))
        .expect("note");
    let before = snapshot(&s);

    let attempts: Vec<(&str, Error)> = vec![
        (
            "bad email",
            s.create_customer(NewCustomer::person("X").email("x@"))
                .unwrap_err(),
        ),
        (
            "stale version",
            s.update_customer(c.id, 7, CustomerPatch::default().name("Y"))
                .unwrap_err(),
        ),
        (
            "bad lifecycle",
            s.update_customer(
                c.id,
                c.version,
                CustomerPatch::default().lifecycle(Lifecycle::Churned),
            )
            .unwrap_err(),
        ),
        (
            "org is a person",
            s.create_customer(NewCustomer::person("Z").works_at(person.id))
                .unwrap_err(),
        ),
        (
            "guard",
            s.move_deal(d.id, d.version, "proposal").unwrap_err(),
        ),
        (
            "unknown stage",
            s.move_deal(d.id, d.version, "nowhere").unwrap_err(),
        ),
        (
            "same stage",
            s.move_deal(d.id, d.version, "lead").unwrap_err(),
        ),
        (
            "lost needs reason",
            s.lose_deal(d.id, d.version, "  ").unwrap_err(),
        ),
        ("stale deal", s.win_deal(d.id, d.version + 1).unwrap_err()),
        (
            "unknown deal",
            s.win_deal(DealId::from_uuid(uuid::Uuid::from_u128(1)), 1)
                .unwrap_err(),
        ),
        (
            "reopen open deal",
            s.reopen_deal(d.id, d.version, None).unwrap_err(),
        ),
        (
            "negative amount",
            s.update_deal(
                d.id,
                d.version,
                DealPatch::default().amount(Some(Money::parse("-1", "EUR").expect("money"))),
            )
            .unwrap_err(),
        ),
        (
            "too precise amount",
            s.create_deal(
                NewDeal::new(c.id, p.id, "D").amount(Money::parse("1.001", "EUR").expect("money")),
            )
            .unwrap_err(),
        ),
        (
            "deal for unknown customer",
            s.create_deal(NewDeal::new(
                CustomerId::from_uuid(uuid::Uuid::from_u128(3)),
                p.id,
                "D",
            ))
            .unwrap_err(),
        ),
        (
            "deal starting won",
            s.create_deal(NewDeal::new(c.id, p.id, "D").stage("won"))
                .unwrap_err(),
        ),
        (
            "complete a note",
            s.complete_task(note.id, note.version).unwrap_err(),
        ),
        (
            "due on a call",
            s.log_activity(NewActivity {
                due_at: Some(t0()),
                ..NewActivity::new(ActivityKind::Call, "c").customer(c.id)
            })
            .unwrap_err(),
        ),
        (
            "unlinked activity",
            s.log_activity(NewActivity::new(ActivityKind::Call, "c"))
                .unwrap_err(),
        ),
        (
            "invalid pipeline",
            s.create_pipeline(PipelineDef::new("Empty")).unwrap_err(),
        ),
        (
            "stale task",
            s.complete_task(task.id, task.version + 1).unwrap_err(),
        ),
    ];
    let after = snapshot(&s);
    assert!(before == after, "a refused operation changed the store");
    let messages: Vec<String> = attempts
        .iter()
        .map(|(what, e)| format!("{what}: {e}"))
        .collect();
    let expect = |what: &str, needle: &str| {
        let m = messages
            .iter()
            .find(|m| m.starts_with(&format!("{what}:")))
            .expect("attempt");
        assert!(
            m.contains(needle),
            "error for '{what}' should mention {needle:?}: {m}"
        );
    };
    expect("bad email", "invalid customer.emails[0] \"x@\"");
    expect(
        "stale version",
        "based on version 7 but it is now at version 1",
    );
    expect(
        "guard",
        "cannot enter stage 'proposal': the deal needs an amount first",
    );
    expect(
        "unknown stage",
        "has no such stage (its stages are lead, qualified, proposal, negotiation, won, lost)",
    );
    expect(
        "lost needs reason",
        "a reason for losing the deal is required",
    );
    expect(
        "reopen open deal",
        "only a won or lost deal can be reopened",
    );
    expect("too precise amount", "EUR has 2 decimal places at most");
    expect("complete a note", "only tasks can be completed");
    assert!(matches!(attempts[1].1, Error::Conflict { .. }));
    assert!(matches!(
        attempts[9].1,
        Error::NotFound {
            entity: EntityKind::Deal,
            ..
        }
    ));
}

/// A batch either commits every operation or none, events included.
pub fn batch_is_all_or_nothing<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let before = snapshot(&s);
    let err = s
        .batch(|b| {
            let c = b.create_customer(NewCustomer::organisation("ACME"))?;
            let d = b.create_deal(NewDeal::new(c.id, p.id, "Big"))?;
            let d = b.move_deal(d.id, d.version, "qualified")?;
            assert_eq!(
                b.deal(d.id)?.stage,
                "qualified",
                "a batch must see its own writes"
            );
            b.win_deal(d.id, d.version + 5)
        })
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert!(snapshot(&s) == before, "a failed batch left changes behind");
    let made = s
        .batch(|b| {
            let c = b.create_customer(NewCustomer::organisation("ACME"))?;
            let d = b.create_deal(NewDeal::new(c.id, p.id, "Big"))?;
            b.win_deal(d.id, d.version)
        })
        .expect("batch");
    assert_eq!(made.status, DealStatus::Won);
    assert_eq!(
        all_events(crm.store()).len(),
        before.4.len() + 3,
        "one event per operation in a batch"
    );
}

/// Two writers updating the same record from the same version: exactly one
/// succeeds, the other gets a conflict, the final record has one update.
pub fn concurrent_updates_never_lose_one<S: Store + 'static>(store: S) {
    let (crm, _) = engine(store);
    let crm = Arc::new(crm);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let c = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    for round in 0..10 {
        let d = s
            .create_deal(NewDeal::new(c.id, p.id, format!("Deal {round}")))
            .expect("deal");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = ["first", "second"]
            .into_iter()
            .map(|title| {
                let (crm, barrier) = (crm.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    crm.as_actor(Actor::System).update_deal(
                        d.id,
                        d.version,
                        DealPatch::default().title(title),
                    )
                })
            })
            .collect();
        let results: Vec<Result<Deal>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let ok: Vec<&Deal> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(Error::Conflict { .. })))
            .count();
        assert_eq!(
            (ok.len(), conflicts),
            (1, 1),
            "round {round}: expected one success and one conflict, got {results:?}"
        );
        let stored = s.deal(d.id).expect("deal");
        assert_eq!(stored.version, 2);
        assert_eq!(
            &stored.title, &ok[0].title,
            "the stored title is the successful writer's"
        );
    }
}
