//! External keys, upserts, caller ID and idempotent creates (issue 17
//! §1), run on every store. Each function takes a factory of fresh, empty
//! stores.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{all_events, engine, runner};
use crate::external_key::{ExternalKey, UpsertMode, UpsertOutcome};
use crate::*;

fn key(system: &str, k: &str) -> ExternalKey {
    ExternalKey::new(system, k).expect("valid key")
}

fn event_count<S: Store>(crm: &Crm<S>) -> usize {
    all_events(crm.store()).len()
}

/// The three modes, compare-and-set, and no-op repeats, on customers.
pub fn customer_upserts_follow_their_mode<S: Store>(store: impl Fn() -> S) {
    let (crm, _) = engine(store());
    let s = crm.as_actor(Actor::System);
    let k = key("shop", "C-1");
    let input = NewCustomer::person("Ada")
        .email("ada@example.org")
        .tag("vip");

    // update_only on a missing key: an error, and nothing is created.
    let stale = CustomerUpsert::new(k.clone(), input.clone()).mode(UpsertMode::UpdateOnly);
    match s.upsert_customer(stale.clone()) {
        Err(Error::ExternalKeyNotFound {
            entity,
            system,
            key,
        }) => {
            assert_eq!(
                (entity, system.as_str(), key.as_str()),
                (EntityKind::Customer, "shop", "C-1")
            );
        }
        other => panic!("update_only on a missing key: {other:?}"),
    }
    assert_eq!(s.count_customers(&Default::default()).unwrap(), 0);
    assert_eq!(event_count(&crm), 0);

    let first = s
        .upsert_customer(CustomerUpsert::new(k.clone(), input.clone()))
        .expect("create");
    assert_eq!(first.outcome, UpsertOutcome::Created);
    assert_eq!(first.record.version, 1);
    let created = &all_events(crm.store())[0];
    assert!(
        created.changes.iter().any(|c| c.field == "external_keys"),
        "the created event lists the keys: {:?}",
        created.changes
    );
    assert_eq!(
        s.external_keys(KeyedRecord::Customer(first.record.id))
            .unwrap(),
        vec![k.clone()]
    );

    // The same input again: same version, no event.
    let events = event_count(&crm);
    let again = s
        .upsert_customer(CustomerUpsert::new(k.clone(), input.clone()))
        .expect("repeat");
    assert_eq!(again.outcome, UpsertOutcome::Unchanged);
    assert_eq!(again.record, first.record);
    assert_eq!(event_count(&crm), events);

    // create_only on a held key: an error naming system, key and holder.
    match s
        .upsert_customer(CustomerUpsert::new(k.clone(), input.clone()).mode(UpsertMode::CreateOnly))
    {
        Err(Error::ExternalKeyTaken {
            system,
            key,
            holder,
            ..
        }) => {
            assert_eq!((system.as_str(), key.as_str()), ("shop", "C-1"));
            assert_eq!(holder, Some(first.record.id.to_string()));
        }
        other => panic!("create_only on a held key: {other:?}"),
    }

    // An update: the fields the input describes, one new version.
    let changed = NewCustomer::person("Ada Lovelace")
        .email("ada@example.org")
        .phone("+44 20 7946 0958")
        .tag("math");
    let up = s
        .upsert_customer(
            CustomerUpsert::new(k.clone(), changed.clone()).mode(UpsertMode::UpdateOnly),
        )
        .expect("update");
    assert_eq!(up.outcome, UpsertOutcome::Updated);
    assert_eq!(up.record.version, 2);
    assert_eq!(up.record.name, "Ada Lovelace");
    assert_eq!(
        up.record
            .tags
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
        ["math"]
    );
    assert_eq!(event_count(&crm), events + 1);
    assert_eq!(s.customer_by_key(&k).unwrap(), up.record);

    // Compare-and-set: a stale expected version changes nothing.
    let cas =
        CustomerUpsert::new(k.clone(), NewCustomer::person("Someone else")).expected_version(1);
    assert!(matches!(
        s.upsert_customer(cas),
        Err(Error::Conflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    assert_eq!(s.customer_by_key(&k).unwrap().name, "Ada Lovelace");
    let cas = CustomerUpsert::new(k.clone(), NewCustomer::person("Ada K.")).expected_version(2);
    assert_eq!(s.upsert_customer(cas).unwrap().record.version, 3);
    // An expected version with a missing key: nothing to compare with.
    let cas = CustomerUpsert::new(key("shop", "C-2"), NewCustomer::person("B")).expected_version(1);
    assert!(matches!(
        s.upsert_customer(cas),
        Err(Error::ExternalKeyNotFound { .. })
    ));
    // A person cannot become an organisation by upsert.
    let kind = CustomerUpsert::new(k.clone(), NewCustomer::organisation("Ada K."));
    assert!(matches!(s.upsert_customer(kind), Err(Error::Invalid(e)) if e.field == "kind"));
    assert_eq!(s.count_customers(&Default::default()).unwrap(), 1);
    assert!(s.verify().unwrap().is_empty());
}

/// Deals and activities: the same modes; the closed-deal freeze and the
/// guards hold; an activity is never rewritten.
pub fn deal_and_activity_upserts_reuse_their_rules<S: Store>(store: impl Fn() -> S) {
    let (crm, _) = engine(store());
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    let c = s
        .create_customer(NewCustomer::organisation("ACME"))
        .unwrap();
    let dk = key("erp", "O-100");
    let input = NewDeal::new(c.id, p.id, "Robots").amount(Money::parse("100", "EUR").unwrap());
    let d = s
        .upsert_deal(DealUpsert::new(dk.clone(), input.clone()))
        .unwrap();
    assert_eq!(d.outcome, UpsertOutcome::Created);
    assert_eq!(s.deal_by_key(&dk).unwrap().id, d.record.id);
    // A customer key and a deal key may be equal: unique per kind.
    s.set_external_keys(
        KeyedRecord::Customer(c.id),
        c.version,
        std::slice::from_ref(&dk),
    )
    .expect("same key, other kind");
    let won = s.win_deal(d.record.id, d.record.version).unwrap();
    // Frozen: an identical upsert is a no-op, a changed one is refused.
    let same = s
        .upsert_deal(DealUpsert::new(dk.clone(), input.clone()))
        .unwrap();
    assert_eq!(
        (same.outcome, same.record.version),
        (UpsertOutcome::Unchanged, won.version)
    );
    let changed = NewDeal::new(c.id, p.id, "Robots").amount(Money::parse("90", "EUR").unwrap());
    assert!(s.upsert_deal(DealUpsert::new(dk.clone(), changed)).is_err());
    assert_eq!(s.deal_by_key(&dk).unwrap().version, won.version);
    // A closed deal may still be linked to another system.
    let v = s
        .set_external_keys(
            KeyedRecord::Deal(won.id),
            won.version,
            &[dk.clone(), key("crm2", "9")],
        )
        .unwrap();
    assert_eq!(v, won.version + 1);
    assert_eq!(s.deal(won.id).unwrap().version, v);

    let ak = key("mail", "<msg-1@example.org>");
    let call = NewActivity::new(ActivityKind::Email, "Offer")
        .customer(c.id)
        .body("Hello");
    let a = s
        .upsert_activity(ActivityUpsert::new(ak.clone(), call.clone()))
        .unwrap();
    assert_eq!(a.outcome, UpsertOutcome::Created);
    let events = event_count(&crm);
    let again = s
        .upsert_activity(ActivityUpsert::new(ak.clone(), call))
        .unwrap();
    assert_eq!(
        (again.outcome, again.record.version),
        (UpsertOutcome::Unchanged, 1)
    );
    assert_eq!(event_count(&crm), events);
    let other = NewActivity::new(ActivityKind::Email, "Offer v2")
        .customer(c.id)
        .body("Hello");
    match s.upsert_activity(ActivityUpsert::new(ak.clone(), other)) {
        Err(Error::Invalid(e)) => assert_eq!(e.field, "subject"),
        other => panic!("a changed activity: {other:?}"),
    }
    assert_eq!(s.activity_by_key(&ak).unwrap().subject, "Offer");
    assert!(s.verify().unwrap().is_empty());
}

/// A key held by another record is refused naming system and key; the
/// holder is named only to an actor who may read it; lookups by key never
/// reach outside the actor's scope.
pub fn taken_keys_are_refused_without_leaking<S: Store>(store: impl Fn() -> S) {
    let (crm, _) = engine(store());
    let admin = crm.as_actor(Actor::System);
    let north = admin.create_team(NewTeam::new("North")).unwrap();
    let south = admin.create_team(NewTeam::new("South")).unwrap();
    let rep = |name: &str, team: TeamId| {
        admin
            .create_user(
                NewUser::new(name, format!("{name}@example.com"))
                    .role(AccessRole::SalesRep)
                    .team(team),
            )
            .unwrap()
    };
    let (alice, bob) = (rep("alice", north.id), rep("bob", south.id));
    let k = key("shop", "42");
    let theirs = admin
        .create_customer(
            NewCustomer::person("Bob's")
                .owner(bob.id)
                .external_key(k.clone()),
        )
        .unwrap();
    let mine = admin
        .create_customer(NewCustomer::person("Alice's").owner(alice.id))
        .unwrap();
    match admin.set_external_keys(
        KeyedRecord::Customer(mine.id),
        mine.version,
        std::slice::from_ref(&k),
    ) {
        Err(Error::ExternalKeyTaken { holder, .. }) => {
            assert_eq!(holder, Some(theirs.id.to_string()))
        }
        other => panic!("a taken key: {other:?}"),
    }
    // Alice reads only her own customers.
    let s = crm.as_user(alice.id);
    assert!(
        s.customer(theirs.id).is_err(),
        "the test needs a restricted actor"
    );
    let e = s
        .set_external_keys(
            KeyedRecord::Customer(mine.id),
            mine.version,
            std::slice::from_ref(&k),
        )
        .unwrap_err();
    match &e {
        Error::ExternalKeyTaken {
            holder,
            system,
            key,
            ..
        } => {
            assert_eq!(holder, &None);
            assert_eq!((system.as_str(), key.as_str()), ("shop", "42"));
        }
        other => panic!("a key held out of reach: {other:?}"),
    }
    assert!(!e.to_string().contains(&theirs.id.to_string()), "{e}");
    assert_eq!(e.parts().id, None);
    assert!(matches!(
        s.customer_by_key(&k),
        Err(Error::ExternalKeyNotFound { .. })
    ));
    let up = CustomerUpsert::new(k.clone(), NewCustomer::person("x")).mode(UpsertMode::UpdateOnly);
    let e = s.upsert_customer(up).unwrap_err();
    assert!(matches!(e, Error::ExternalKeyNotFound { .. }), "{e:?}");
    let e = s
        .upsert_customer(CustomerUpsert::new(k.clone(), NewCustomer::person("x")))
        .unwrap_err();
    assert!(
        matches!(e, Error::ExternalKeyTaken { holder: None, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains(&theirs.id.to_string()), "{e}");
    assert_eq!(admin.customer_by_key(&k).unwrap().id, theirs.id);
    assert_eq!(admin.count_customers(&Default::default()).unwrap(), 2);
}

/// Caller ID: phone numbers in any common form find the customer; an
/// e-mail domain finds its organisation.
pub fn caller_id_finds_customers<S: Store>(store: impl Fn() -> S) {
    let (crm, _) = engine(store());
    let s = crm.as_actor(Actor::System);
    let acme = s
        .create_customer(NewCustomer::organisation("ACME").email("info@acme.example"))
        .unwrap();
    let ada = s
        .create_customer(
            NewCustomer::person("Ada")
                .phone("+49 30 1234567")
                .email("ada@acme.example")
                .works_at(acme.id),
        )
        .unwrap();
    let other = s
        .create_customer(NewCustomer::organisation("Wayne").email("bruce@wayne.example"))
        .unwrap();
    for (number, region) in [
        ("+49 30 1234567", None),
        ("0049 (30) 123-4567", None),
        ("+49301234567", None),
        ("030 1234567", Some("DE")),
        ("030/1234567", Some("de")),
    ] {
        let found = s.customers_by_phone(number, region).unwrap();
        assert_eq!(
            found.iter().map(|c| c.id).collect::<Vec<_>>(),
            [ada.id],
            "{number}"
        );
    }
    assert!(
        s.customers_by_phone("+49 30 7654321", None)
            .unwrap()
            .is_empty()
    );
    assert!(
        matches!(s.customers_by_phone("030 1234567", None), Err(Error::Invalid(e)) if e.field == "phone")
    );
    assert!(s.customers_by_phone("030 1234567", Some("XX")).is_err());
    // After a number changes, the index follows.
    s.update_customer(
        ada.id,
        ada.version,
        CustomerPatch::default().phones(["+1 415 555 0132"]),
    )
    .unwrap();
    assert!(
        s.customers_by_phone("+49 30 1234567", None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.customers_by_phone("(415) 555-0132", Some("US")).unwrap()[0].id,
        ada.id
    );

    let orgs = s.organisations_by_domain("someone@ACME.example").unwrap();
    assert_eq!(orgs.iter().map(|c| c.id).collect::<Vec<_>>(), [acme.id]);
    assert_eq!(
        s.organisations_by_domain("wayne.example").unwrap()[0].id,
        other.id
    );
    assert!(
        s.organisations_by_domain("nobody.example")
            .unwrap()
            .is_empty()
    );
    assert!(s.organisations_by_domain("not a domain").is_err());
}

/// A merge moves the merged customer's external keys to the survivor, in
/// the merge's one event: an upsert by either key then finds the survivor.
pub fn merges_move_external_keys<S: Store>(store: impl Fn() -> S) {
    let (crm, _) = engine(store());
    let s = crm.as_actor(Actor::System);
    let (ka, kb) = (key("shop", "A"), key("erp", "B"));
    let a = s
        .create_customer(NewCustomer::organisation("ACME").external_key(ka.clone()))
        .unwrap();
    let b = s
        .create_customer(NewCustomer::organisation("Acme").external_key(kb.clone()))
        .unwrap();
    let events = event_count(&crm);
    let merged = s
        .merge_customers(a.id, a.version, b.id, b.version, &Default::default())
        .unwrap();
    assert_eq!(event_count(&crm), events + 1);
    assert_eq!(
        s.external_keys(KeyedRecord::Customer(a.id)).unwrap(),
        vec![kb.clone(), ka.clone()]
    );
    assert_eq!(s.customer_by_key(&kb).unwrap().id, a.id);
    let up = s
        .upsert_customer(CustomerUpsert::new(kb, NewCustomer::organisation("ACME")))
        .unwrap();
    assert_eq!(
        (up.record.id, up.outcome),
        (merged.id, UpsertOutcome::Unchanged)
    );
    assert!(s.verify().unwrap().is_empty());
}

/// A retried create with the same idempotency key returns the first
/// record and writes nothing; the same key with another input is refused.
pub fn idempotent_creates_return_the_first_record<S: Store>(store: impl Fn() -> S) {
    let (crm, _) = engine(store());
    let s = crm.as_actor(Actor::System);
    let input = NewCustomer::person("Ada").idempotency_key("req-1");
    let first = s.create_customer(input.clone()).unwrap();
    let events = event_count(&crm);
    let retry = s.create_customer(input).unwrap();
    assert_eq!(retry, first);
    assert_eq!(event_count(&crm), events);
    assert_eq!(s.count_customers(&Default::default()).unwrap(), 1);
    match s.create_customer(NewCustomer::person("Grace").idempotency_key("req-1")) {
        Err(Error::Invalid(e)) => assert_eq!(e.field, "idempotency_key"),
        other => panic!("a reused key: {other:?}"),
    }
    // Keys are per kind, and a failed create stores no key.
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    let deal = NewDeal::new(first.id, p.id, "").idempotency_key("req-1");
    assert!(s.create_deal(deal).is_err());
    let deal = NewDeal::new(first.id, p.id, "Robots").idempotency_key("req-1");
    let d = s.create_deal(deal.clone()).unwrap();
    assert_eq!(s.create_deal(deal).unwrap().id, d.id);
    let note = NewActivity::new(ActivityKind::Note, "n")
        .customer(first.id)
        .idempotency_key("n-1");
    let a = s.log_activity(note.clone()).unwrap();
    assert_eq!(s.log_activity(note).unwrap().id, a.id);
    let long = "k".repeat(crate::limits::MAX_IDEMPOTENCY_KEY_CHARS + 1);
    assert!(
        s.create_customer(NewCustomer::person("x").idempotency_key(long))
            .is_err()
    );
    assert!(s.verify().unwrap().is_empty());
}

/// A backup carries external keys and idempotency keys; the restored
/// store finds records by key and still replays retried creates; a
/// version-2 backup (without them) still restores.
pub fn backups_carry_keys<S: Store, T: Store, U: Store>(source: S, target: T, older: U) {
    let (crm, _) = engine(source);
    let s = crm.as_actor(Actor::System);
    let k = key("shop", "C-9");
    let c = s
        .upsert_customer(CustomerUpsert::new(
            k.clone(),
            NewCustomer::person("Ada").idempotency_key("r-1"),
        ))
        .unwrap()
        .record;
    let mut file = Vec::new();
    let counts = s.backup(&mut file).unwrap();
    assert_eq!((counts.external_keys, counts.idempotency_keys), (1, 1));
    let text = String::from_utf8(file.clone()).unwrap();
    assert!(
        text.contains(r#"{"external_key":{"entity":"customer","system":"shop","key":"C-9""#),
        "{text}"
    );

    let (copy, _) = engine(target);
    let t = copy.as_actor(Actor::System);
    t.restore(file.as_slice()).unwrap();
    assert_eq!(t.customer_by_key(&k).unwrap(), c);
    let mut retried = NewCustomer::person("Ada").idempotency_key("r-1");
    retried.external_keys.push(k.clone());
    assert_eq!(t.create_customer(retried).unwrap().id, c.id);
    assert!(t.verify().unwrap().is_empty());
    let mut again = Vec::new();
    t.backup(&mut again).unwrap();
    assert_eq!(String::from_utf8(again).unwrap(), text, "byte for byte");

    // A version-2 file: the same lines without the key lines.
    let old: String = text
        .lines()
        .filter(|l| !l.starts_with(r#"{"external_key""#) && !l.starts_with(r#"{"idempotency_key""#))
        .map(|l| l.replace(r#""version":3}"#, r#""version":2}"#) + "\n")
        .collect();
    let (older_crm, _) = engine(older);
    let o = older_crm.as_actor(Actor::System);
    o.restore(old.as_bytes()).unwrap();
    assert_eq!(o.customer(c.id).unwrap().name, "Ada");
    assert!(matches!(
        o.customer_by_key(&k),
        Err(Error::ExternalKeyNotFound { .. })
    ));
}

#[derive(Debug, Clone)]
struct Op {
    key: usize,
    name: usize,
    mode: UpsertMode,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..3usize,
        0..3usize,
        prop_oneof![
            Just(UpsertMode::CreateOrUpdate),
            Just(UpsertMode::UpdateOnly),
            Just(UpsertMode::CreateOnly)
        ],
    )
        .prop_map(|(key, name, mode)| Op { key, name, mode })
}

/// Any sequence of upserts leaves the state a small model computes (per
/// key: a name and a version), with one event per version, and each
/// upsert's outcome or error is the model's.
pub fn upsert_sequences_match_a_reference_model<S: Store>(store: impl Fn() -> S) {
    let names = ["Ada", "Grace", "Edsger"];
    runner(32)
        .run(&proptest::collection::vec(op(), 1..24), |ops| {
            let (crm, _) = engine(store());
            let s = crm.as_actor(Actor::System);
            let mut model: BTreeMap<usize, (&str, u64)> = BTreeMap::new();
            for o in &ops {
                let k = key("shop", &format!("k{}", o.key));
                let name = names[o.name];
                let up = CustomerUpsert::new(k, NewCustomer::person(name)).mode(o.mode);
                let got = s.upsert_customer(up);
                let expected = match (model.get(&o.key).copied(), o.mode) {
                    (None, UpsertMode::UpdateOnly) => Err("not found"),
                    (Some(_), UpsertMode::CreateOnly) => Err("taken"),
                    (None, _) => {
                        model.insert(o.key, (name, 1));
                        Ok((UpsertOutcome::Created, 1))
                    }
                    (Some((n, v)), _) if n == name => Ok((UpsertOutcome::Unchanged, v)),
                    (Some((_, v)), _) => {
                        model.insert(o.key, (name, v + 1));
                        Ok((UpsertOutcome::Updated, v + 1))
                    }
                };
                match (got, expected) {
                    (Ok(u), Ok((outcome, version))) => {
                        prop_assert_eq!(u.outcome, outcome);
                        prop_assert_eq!(u.record.version, version);
                        prop_assert_eq!(u.record.name.as_str(), name);
                    }
                    (Err(Error::ExternalKeyNotFound { .. }), Err("not found")) => {}
                    (Err(Error::ExternalKeyTaken { .. }), Err("taken")) => {}
                    (got, want) => prop_assert!(false, "{:?}: got {:?}, model {:?}", o, got, want),
                }
            }
            prop_assert_eq!(
                s.count_customers(&Default::default()).unwrap(),
                model.len() as u64
            );
            for (k, (name, version)) in &model {
                let c = s.customer_by_key(&key("shop", &format!("k{k}"))).unwrap();
                prop_assert_eq!((c.name.as_str(), c.version), (*name, *version));
            }
            let versions: u64 = model.values().map(|(_, v)| v).sum();
            prop_assert_eq!(event_count(&crm) as u64, versions);
            Ok(())
        })
        .unwrap();
}

/// Two threads upserting one new key at once end with one record holding
/// it, and every upsert either created it, updated it or left it as it was.
pub fn concurrent_upserts_of_one_key_make_one_record<S: Store>(store: impl Fn() -> S) {
    for round in 0..4 {
        let (crm, _) = engine(store());
        let barrier = std::sync::Barrier::new(2);
        let k = key("shop", &format!("race-{round}"));
        let created: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = ["Ada", "Grace"]
                .into_iter()
                .map(|name| {
                    let (crm, barrier, k) = (&crm, &barrier, k.clone());
                    scope.spawn(move || {
                        barrier.wait();
                        let s = crm.as_actor(Actor::System);
                        let mut created = 0;
                        for _ in 0..5 {
                            let up = CustomerUpsert::new(k.clone(), NewCustomer::person(name));
                            if s.upsert_customer(up).expect("upsert").outcome
                                == UpsertOutcome::Created
                            {
                                created += 1;
                            }
                        }
                        created
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).sum()
        });
        assert_eq!(created, 1, "exactly one upsert created the record");
        let s = crm.as_actor(Actor::System);
        assert_eq!(s.count_customers(&Default::default()).unwrap(), 1);
        assert!(s.customer_by_key(&k).is_ok());
        assert!(s.verify().unwrap().is_empty());
    }
}
