//! No record outside the actor's read scope leaks, and custom fields obey
//! field rules, on every path: merges, error messages, reads, listings,
//! events, exports, segments, writes, imports and batches (issue 15 §3).
//! Each check asserts the exact error or the exact absence.

use super::engine;
use crate::access::{Field, Operation, Resource};
use crate::custom_field::{CustomValue, FieldDef, FieldType};
use crate::import::{ImportOptions, ImportPolicy};
use crate::merge::{Keep, MergePolicy};
use crate::*;

/// Two reps in different teams (Ana north, Bo south), a support agent and
/// a user without roles; a sales pipeline.
struct World<S: Store> {
    crm: Crm<S>,
    ana: User,
    bo: User,
    sam: User,
    nobody: User,
    pipeline: Pipeline,
}

fn world<S: Store>(store: S) -> World<S> {
    let (crm, _) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let south = system.create_team(NewTeam::new("South")).expect("team");
    let rep = |name: &str, team: TeamId| {
        system
            .create_user(
                NewUser::new(name, format!("{name}@example.com"))
                    .role(AccessRole::SalesRep)
                    .team(team),
            )
            .expect("rep")
    };
    let ana = rep("ana", north.id);
    let bo = rep("bo", south.id);
    let sam = system
        .create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))
        .expect("sam");
    let nobody = system
        .create_user(NewUser::new("Nobody", "nobody@example.com"))
        .expect("nobody");
    let pipeline = system
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    World {
        crm,
        ana,
        bo,
        sam,
        nobody,
        pipeline,
    }
}

fn event_count<S: Store>(crm: &Crm<S>) -> usize {
    crm.as_actor(Actor::System)
        .events(&EventQuery::new().limit(500))
        .expect("events")
        .items
        .len()
}

/// `merge_customers` refuses a merge that would move a deal, an activity
/// or a person the actor cannot read, with [`Error::HiddenRecords`]
/// naming only the merged customer and the kind of the hidden records,
/// never their ids; nothing changes. Readable but unwritable records are
/// still refused by the write check, which may name them.
pub fn merge_never_names_records_outside_the_read_scope<S: Store>(store: S) {
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    let a = w.crm.as_user(w.ana.id);
    let customer = |name: &str, owner: UserId| {
        system
            .create_customer(NewCustomer::organisation(name).owner(owner))
            .expect("customer")
    };
    let merge = |survivor: &Customer, merged: &Customer| {
        let (s, m) = (
            system.customer(survivor.id).expect("survivor"),
            system.customer(merged.id).expect("merged"),
        );
        a.merge_customers(s.id, s.version, m.id, m.version, &MergePolicy::default())
    };

    // A deal of Bo's (another team) on Ana's customer.
    let acme = customer("ACME", w.ana.id);
    let acme2 = customer("ACME 2", w.ana.id);
    let hidden_deal = system
        .create_deal(NewDeal::new(acme2.id, w.pipeline.id, "Trucks").owner(w.bo.id))
        .expect("bo's deal");
    let before = event_count(&w.crm);
    let err = merge(&acme, &acme2).expect_err("the merge would move a hidden deal");
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            Error::HiddenRecords {
                operation: Operation::Merge,
                entity: EntityKind::Customer,
                hidden: Resource::Deals,
                id,
                ..
            } if *id == acme2.id.to_string()
        ),
        "{err:?}"
    );
    assert_eq!(
        text,
        format!(
            "permission denied: user {} may not merge customer {}: it would change deals records outside their read scope",
            w.ana.id, acme2.id
        )
    );
    assert!(!text.contains(&hidden_deal.id.to_string()), "{text}");
    assert_eq!(err.parts().id, Some(acme2.id.to_string()));
    assert_eq!(
        event_count(&w.crm),
        before,
        "a refused merge appends nothing"
    );
    assert_eq!(system.customer(acme2.id).expect("acme2").merged_into, None);
    assert_eq!(
        system.deal(hidden_deal.id).expect("deal").customer,
        acme2.id,
        "the hidden deal did not move"
    );

    // An activity assigned to Bo on Ana's customer.
    let initech = customer("Initech", w.ana.id);
    let initech2 = customer("Initech 2", w.ana.id);
    let hidden_call = system
        .log_activity(
            NewActivity::new(ActivityKind::Call, "Call")
                .customer(initech2.id)
                .owner(w.bo.id),
        )
        .expect("bo's call");
    let err = merge(&initech, &initech2).expect_err("the merge would move a hidden activity");
    assert!(
        matches!(
            err,
            Error::HiddenRecords {
                hidden: Resource::Activities,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains(&hidden_call.id.to_string()));

    // A person of Bo's working for Ana's organisation.
    let globex = customer("Globex", w.ana.id);
    let globex2 = customer("Globex 2", w.ana.id);
    let hidden_person = system
        .create_customer(
            NewCustomer::person("Hank Scorpio")
                .works_at(globex2.id)
                .owner(w.bo.id),
        )
        .expect("bo's person");
    let err = merge(&globex, &globex2).expect_err("the merge would move a hidden person");
    assert!(
        matches!(
            err,
            Error::HiddenRecords {
                hidden: Resource::Customers,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains(&hidden_person.id.to_string()));

    // A deal Ana can read (her team's) but not change: the write check
    // refuses, and may name it, since she can see it anyway.
    let carla = system
        .create_user(
            NewUser::new("Carla", "carla@example.com")
                .role(AccessRole::SalesRep)
                .team(w.ana.teams.iter().next().copied().expect("north")),
        )
        .expect("carla");
    let umbrella = customer("Umbrella", w.ana.id);
    let umbrella2 = customer("Umbrella 2", w.ana.id);
    let team_deal = system
        .create_deal(NewDeal::new(umbrella2.id, w.pipeline.id, "Vaccines").owner(carla.id))
        .expect("carla's deal");
    match merge(&umbrella, &umbrella2) {
        Err(Error::PermissionDenied {
            resource: Resource::Deals,
            id,
            ..
        }) => assert_eq!(id, team_deal.id.to_string()),
        other => panic!("expected the write check to refuse, got {other:?}"),
    }
    // Without anything hidden the merge goes through.
    let plain = customer("Plain", w.ana.id);
    let plain2 = customer("Plain 2", w.ana.id);
    merge(&plain, &plain2).expect("nothing hidden, nothing refused");
}

/// A customer merged into one the actor cannot read: every message that
/// says so ("merged into …") names no id but the one the caller gave.
pub fn merged_into_is_named_only_when_readable<S: Store>(store: S) {
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    let a = w.crm.as_user(w.ana.id);
    let mine = system
        .create_customer(NewCustomer::organisation("Mine").owner(w.ana.id))
        .expect("mine");
    let theirs = system
        .create_customer(NewCustomer::organisation("Theirs").owner(w.bo.id))
        .expect("theirs");
    system
        .merge_customers(
            theirs.id,
            theirs.version,
            mine.id,
            mine.version,
            &MergePolicy::default(),
        )
        .expect("system merges");
    let mine = system.customer(mine.id).expect("mine");
    assert_eq!(mine.owner, Some(w.ana.id));
    let hidden = theirs.id.to_string();
    // Ana can still read her merged customer (she owns it)...
    let mine = a.customer(mine.id).expect("ana reads her merged customer");
    // ...but not the survivor.
    assert!(matches!(a.customer(theirs.id), Err(Error::NotFound { .. })));

    let err = a
        .create_deal(NewDeal::new(mine.id, w.pipeline.id, "Robots"))
        .expect_err("merged customers take no deals");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid deal.customer \"{}\": this customer was merged into another customer; use that customer instead",
            mine.id
        )
    );
    let err = a
        .update_customer(mine.id, mine.version, CustomerPatch::default().name("New"))
        .expect_err("merged customers do not change");
    assert!(!err.to_string().contains(&hidden), "{err}");
    assert!(err.to_string().contains("another customer"), "{err}");
    let other = system
        .create_customer(NewCustomer::organisation("Other").owner(w.ana.id))
        .expect("other");
    let err = a
        .merge_customers(
            other.id,
            other.version,
            mine.id,
            mine.version,
            &MergePolicy::default(),
        )
        .expect_err("already merged");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid customer.merged \"{}\": this customer was already merged into another customer",
            mine.id
        )
    );
    // The system, who reads everything, is told which one.
    let err = system
        .create_deal(NewDeal::new(mine.id, w.pipeline.id, "Robots"))
        .expect_err("merged");
    assert!(err.to_string().contains(&hidden), "{err}");
}

/// `log_activity` on a deal the actor can read but whose customer they
/// cannot: the mismatch message does not name that customer.
pub fn activity_deal_mismatch_names_no_hidden_customer<S: Store>(store: S) {
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    let a = w.crm.as_user(w.ana.id);
    let bos = system
        .create_customer(NewCustomer::organisation("Bo's").owner(w.bo.id))
        .expect("bo's customer");
    let deal = system
        .create_deal(NewDeal::new(bos.id, w.pipeline.id, "Shared").owner(w.ana.id))
        .expect("ana's deal on bo's customer");
    let mine = system
        .create_customer(NewCustomer::organisation("Mine").owner(w.ana.id))
        .expect("mine");
    let before = event_count(&w.crm);
    let err = a
        .log_activity(
            NewActivity::new(ActivityKind::Note, "Note")
                .customer(mine.id)
                .deal(deal.id),
        )
        .expect_err("the deal is not the customer's");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid activity.deal \"{}\": that deal belongs to another customer, not {}",
            deal.id, mine.id
        )
    );
    assert_eq!(event_count(&w.crm), before);
    // Where the customer is readable it is named.
    let other = system
        .create_customer(NewCustomer::organisation("Other").owner(w.ana.id))
        .expect("other");
    let own_deal = system
        .create_deal(NewDeal::new(other.id, w.pipeline.id, "Own").owner(w.ana.id))
        .expect("own deal");
    let err = a
        .log_activity(
            NewActivity::new(ActivityKind::Note, "Note")
                .customer(mine.id)
                .deal(own_deal.id),
        )
        .expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        format!(
            "invalid activity.deal \"{}\": that deal belongs to customer {}, not {}",
            own_deal.id, other.id, mine.id
        )
    );
}

/// A merge changes the survivor like an update does: a read-only owner
/// may not change through it, nor a read-only custom field.
pub fn merge_obeys_the_field_rules_of_an_update<S: Store>(store: S) {
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    let s = w.crm.as_user(w.sam.id);
    let ann = system
        .create_customer(NewCustomer::person("Ann").owner(w.ana.id))
        .expect("ann");
    let ann2 = system
        .create_customer(NewCustomer::person("Ann B").owner(w.bo.id))
        .expect("ann2");
    // Support may change customers, but not their owner.
    let before = event_count(&w.crm);
    match s.merge_customers(
        ann.id,
        ann.version,
        ann2.id,
        ann2.version,
        &MergePolicy::default().owner(Keep::Merged),
    ) {
        Err(Error::PermissionDenied {
            operation: Operation::ChangeOwner,
            field: Some(Field::CustomerOwner),
            id,
            ..
        }) => assert_eq!(id, ann.id.to_string()),
        other => panic!("support may not change an owner through a merge, got {other:?}"),
    }
    assert_eq!(event_count(&w.crm), before);
    assert_eq!(system.customer(ann.id).expect("ann").owner, Some(w.ana.id));

    // A custom field read-only for support: copying the merged value is a change.
    system
        .set_custom_fields(
            EntityKind::Customer,
            0,
            vec![
                FieldDef::new("segment", "Segment", FieldType::Text)
                    .read_only_for([AccessRole::Support]),
            ],
        )
        .expect("fields");
    let ann2 = system.customer(ann2.id).expect("ann2");
    let ann2 = system
        .update_customer(
            ann2.id,
            ann2.version,
            CustomerPatch::default().custom("segment", Some(CustomValue::Text("smb".into()))),
        )
        .expect("segment");
    let ann = system.customer(ann.id).expect("ann");
    let err = s
        .merge_customers(
            ann.id,
            ann.version,
            ann2.id,
            ann2.version,
            &MergePolicy::default(),
        )
        .expect_err("the merge would set a read-only field");
    assert!(
        matches!(
            &err,
            Error::CustomFieldReadOnly { entity: EntityKind::Customer, key, id, .. }
                if key == "segment" && *id == ann.id.to_string()
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "permission denied: user {} may not change customer {}: field customer.custom.segment is read-only for their roles",
            w.sam.id, ann.id
        )
    );
}

/// [`Session::custom_fields`] needs read scope `all` on pipelines: a user
/// without roles is told the schema does not exist; support reads it,
/// with its field rules.
pub fn custom_field_schema_needs_a_role<S: Store>(store: S) {
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    system
        .set_custom_fields(
            EntityKind::Deal,
            0,
            vec![
                FieldDef::new("margin", "Margin", FieldType::Money)
                    .hidden_from([AccessRole::Support]),
            ],
        )
        .expect("fields");
    match w.crm.as_user(w.nobody.id).custom_fields(EntityKind::Deal) {
        Err(Error::NotFound {
            entity: EntityKind::FieldSchema,
            id,
        }) => assert_eq!(id, "deal"),
        other => panic!("a user without roles must not read the schema, got {other:?}"),
    }
    // Nor learn it from a segment's error, which lists the fields.
    system
        .set_custom_fields(
            EntityKind::Customer,
            0,
            vec![FieldDef::new("tier", "Tier", FieldType::Text)],
        )
        .expect("customer fields");
    let probe = "field.tierr = gold".parse().expect("expr");
    match w
        .crm
        .as_user(w.nobody.id)
        .evaluate_expr(&probe, &PageRequest::default())
    {
        Err(Error::CustomFieldHidden { key, .. }) => assert_eq!(key, "tierr"),
        other => panic!("a user without roles must learn nothing of the schema, got {other:?}"),
    }
    let err = w
        .crm
        .as_user(w.sam.id)
        .evaluate_expr(&probe, &PageRequest::default())
        .expect_err("unknown field");
    assert!(err.to_string().contains("(the fields are tier)"), "{err}");
    let schema = w
        .crm
        .as_user(w.sam.id)
        .custom_fields(EntityKind::Deal)
        .expect("support reads the schema");
    assert_eq!(schema.fields.len(), 1);
    assert_eq!(schema.fields[0].hidden_from, [AccessRole::Support]);
}

/// A custom field hidden from support (`margin` on deals, `credit_limit`
/// on customers) is absent from every read path and refused in every
/// filter; a read-only one is refused on every write path, naming the
/// field; a user whose other role does not hide it sees it.
pub fn hidden_custom_fields_never_leak<S: Store>(store: S) {
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    let eur = |a: &str| CustomValue::Money(Money::parse(a, "EUR").expect("money"));
    system
        .set_custom_fields(
            EntityKind::Deal,
            0,
            vec![
                FieldDef::new("margin", "Margin", FieldType::Money)
                    .hidden_from([AccessRole::Support, AccessRole::ReadOnly]),
                FieldDef::new("seats", "Seats", FieldType::Integer),
            ],
        )
        .expect("deal fields");
    system
        .set_custom_fields(
            EntityKind::Customer,
            0,
            vec![
                FieldDef::new("credit_limit", "Credit limit", FieldType::Money)
                    .hidden_from([AccessRole::Support]),
                FieldDef::new("tier", "Tier", FieldType::Text),
            ],
        )
        .expect("customer fields");
    let viewer = system
        .create_user(NewUser::new("Vic", "vic@example.com").role(AccessRole::ReadOnly))
        .expect("viewer");
    let both = system
        .create_user(
            NewUser::new("Bea", "bea@example.com")
                .role(AccessRole::Support)
                .role(AccessRole::SalesManager),
        )
        .expect("both");
    let acme = system
        .create_customer(
            NewCustomer::organisation("ACME")
                .owner(w.ana.id)
                .custom("credit_limit", eur("5000.00"))
                .custom("tier", CustomValue::Text("gold".into())),
        )
        .expect("acme");
    let deal = system
        .create_deal(
            NewDeal::new(acme.id, w.pipeline.id, "Robots")
                .owner(w.ana.id)
                .custom("margin", eur("1234.56"))
                .custom("seats", CustomValue::Integer(12)),
        )
        .expect("deal");
    let s = w.crm.as_user(w.sam.id);
    let keys = |c: &custom_field::CustomValues| -> Vec<String> { c.keys().cloned().collect() };

    // Single reads and listings.
    assert_eq!(keys(&s.deal(deal.id).expect("deal").custom), ["seats"]);
    let listed = s.deals(&DealQuery::new()).expect("deals");
    assert_eq!(keys(&listed.items[0].custom), ["seats"]);
    assert_eq!(keys(&s.customer(acme.id).expect("acme").custom), ["tier"]);
    let listed = s.customers(&CustomerQuery::new()).expect("customers");
    assert_eq!(keys(&listed.items[0].custom), ["tier"]);
    // A user whose other role does not hide the field sees it.
    let b = w.crm.as_user(both.id);
    assert_eq!(
        keys(&b.deal(deal.id).expect("deal").custom),
        ["margin", "seats"]
    );
    assert_eq!(
        w.crm.as_user(w.ana.id).deal(deal.id).expect("deal").custom["margin"],
        eur("1234.56")
    );

    // Events: the creation's `custom` change keeps only what the viewer sees.
    let v = w.crm.as_user(viewer.id);
    let events = v.events(&EventQuery::new().limit(500)).expect("events");
    let created = events
        .items
        .iter()
        .find(|e| e.entity.kind == EntityKind::Deal && e.entity.id == deal.id.as_uuid())
        .expect("the deal's event");
    let custom = created
        .changes
        .iter()
        .find(|c| c.field == "custom")
        .expect("custom change");
    assert_eq!(
        custom.new,
        serde_json::json!({"seats": {"type": "integer", "value": 12}})
    );
    assert!(
        !serde_json::to_string(&events.items)
            .unwrap_or_default()
            .contains("1234.56"),
        "the margin leaks through the event log"
    );
    // The admin-like system sees the whole change.
    let all = system
        .events(&EventQuery::new().limit(500))
        .expect("events");
    assert!(
        serde_json::to_string(&all.items)
            .unwrap_or_default()
            .contains("1234.56")
    );

    // Exports: no margin column, no margin value.
    let mut out = Vec::new();
    assert_eq!(s.export_deals(&mut out).expect("export"), 1);
    let text = String::from_utf8(out).unwrap_or_default();
    let header = text.lines().next().unwrap_or_default();
    assert!(header.ends_with(",seats"), "{header}");
    assert!(
        !text.contains("margin") && !text.contains("1234.56"),
        "{text}"
    );
    let mut out = Vec::new();
    s.export_customers(&mut out).expect("export");
    let text = String::from_utf8(out).unwrap_or_default();
    assert!(
        !text.contains("credit_limit") && !text.contains("5000.00"),
        "{text}"
    );

    // Segments: a test on the hidden field is refused before anything is read.
    let page = PageRequest::default();
    let rich = "field.credit_limit >= 100 EUR".parse().expect("expr");
    match s.evaluate_expr(&rich, &page) {
        Err(Error::CustomFieldHidden {
            entity: EntityKind::Customer,
            key,
            ..
        }) => assert_eq!(key, "credit_limit"),
        other => panic!("support may not segment on a hidden field, got {other:?}"),
    }
    assert_eq!(system.evaluate_expr(&rich, &page).expect("eval").count, 1);
    let tier = "field.tier = gold".parse().expect("expr");
    assert_eq!(s.evaluate_expr(&tier, &page).expect("eval").count, 1);

    // Writes: changing, setting or clearing the hidden field is refused,
    // naming it; changing another field keeps its stored value.
    let before = event_count(&w.crm);
    let acme = system.customer(acme.id).expect("acme");
    for value in [Some(eur("1.00")), None] {
        let err = s
            .update_customer(
                acme.id,
                acme.version,
                CustomerPatch::default().custom("credit_limit", value),
            )
            .expect_err("read-only for support");
        assert_eq!(
            err.to_string(),
            format!(
                "permission denied: user {} may not change customer {}: field customer.custom.credit_limit is read-only for their roles",
                w.sam.id, acme.id
            )
        );
        assert_eq!(err.parts().field.as_deref(), Some("custom.credit_limit"));
    }
    let err = s
        .create_customer(NewCustomer::organisation("New").custom("credit_limit", eur("1.00")))
        .expect_err("read-only for support");
    assert!(
        matches!(&err, Error::CustomFieldReadOnly { id, key, .. } if id.is_empty() && key == "credit_limit"),
        "{err:?}"
    );
    assert_eq!(event_count(&w.crm), before, "refused writes append nothing");
    let renamed = s
        .update_customer(
            acme.id,
            acme.version,
            CustomerPatch::default().name("ACME AG"),
        )
        .expect("support renames");
    assert_eq!(keys(&renamed.custom), ["tier"]);
    assert_eq!(
        system.customer(acme.id).expect("acme").custom["credit_limit"],
        eur("5000.00"),
        "the hidden value survives a change by someone who cannot see it"
    );

    // A batch: the refused step fails the whole batch.
    let acme = system.customer(acme.id).expect("acme");
    let before = event_count(&w.crm);
    let out = s.batch(|b| {
        b.update_customer(
            acme.id,
            acme.version,
            CustomerPatch::default().name("Renamed"),
        )?;
        let acme = b.customer(acme.id)?;
        b.update_customer(
            acme.id,
            acme.version,
            CustomerPatch::default().custom("credit_limit", None),
        )
    });
    assert!(
        matches!(out, Err(Error::CustomFieldReadOnly { .. })),
        "{out:?}"
    );
    assert_eq!(event_count(&w.crm), before, "the batch wrote nothing");
    assert_eq!(system.customer(acme.id).expect("acme").name, "ACME AG");

    // Imports: the read-only column is the row's problem; nothing is written.
    let csv = "name,credit_limit\nInitech,10.00 EUR\n";
    let report = s
        .import_customers(csv.as_bytes(), &ImportOptions::default())
        .expect("import");
    let problems: Vec<(&str, &str)> = report
        .problems
        .iter()
        .map(|p| (p.column.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(problems, [("credit_limit", "10.00 EUR")]);
    assert_eq!(
        report.problems[0].reason,
        format!(
            "permission denied: user {} may not change a new customer: field customer.custom.credit_limit is read-only for their roles",
            w.sam.id
        )
    );
    assert!(!report.written);
    let report = s
        .import_customers(
            csv.as_bytes(),
            &ImportOptions::default().policy(ImportPolicy::SkipInvalid),
        )
        .expect("import");
    assert_eq!((report.valid_rows, report.problems.len()), (0, 1));

    // Backups hold every value: an actor with a hidden custom field may not take one.
    system
        .set_custom_fields(
            EntityKind::Activity,
            0,
            vec![
                FieldDef::new("secret", "Secret", FieldType::Text).hidden_from([AccessRole::Admin]),
            ],
        )
        .expect("activity fields");
    let admin = system
        .create_user(NewUser::new("Adm", "adm@example.com").role(AccessRole::Admin))
        .expect("admin");
    match w.crm.as_user(admin.id).backup(Vec::new()) {
        Err(Error::CustomFieldHidden {
            entity: EntityKind::Activity,
            key,
            ..
        }) => assert_eq!(key, "secret"),
        other => panic!("a backup by an actor with a hidden field must be refused, got {other:?}"),
    }
}

/// A custom field read-only for sales reps: a rep reads it but may neither
/// set it on a new deal nor change it on their own.
pub fn read_only_custom_fields_refuse_every_write<S: Store>(store: S) {
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    system
        .set_custom_fields(
            EntityKind::Deal,
            0,
            vec![
                FieldDef::new("discount", "Discount", FieldType::Decimal)
                    .read_only_for([AccessRole::SalesRep]),
                FieldDef::new("seats", "Seats", FieldType::Integer),
            ],
        )
        .expect("fields");
    let a = w.crm.as_user(w.ana.id);
    let acme = a
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    let err = a
        .create_deal(NewDeal::new(acme.id, w.pipeline.id, "Robots").custom(
            "discount",
            CustomValue::Decimal("0.1".parse().expect("decimal")),
        ))
        .expect_err("read-only");
    assert_eq!(
        err.to_string(),
        format!(
            "permission denied: user {} may not change a new deal: field deal.custom.discount is read-only for their roles",
            w.ana.id
        )
    );
    let deal = a
        .create_deal(
            NewDeal::new(acme.id, w.pipeline.id, "Robots").custom("seats", CustomValue::Integer(3)),
        )
        .expect("other fields are fine");
    let deal = system
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default().custom(
                "discount",
                Some(CustomValue::Decimal("0.2".parse().expect("decimal"))),
            ),
        )
        .expect("the system sets it");
    assert_eq!(
        a.deal(deal.id).expect("deal").custom["discount"],
        CustomValue::Decimal("0.2".parse().expect("decimal")),
        "read-only, not hidden"
    );
    match a.update_deal(
        deal.id,
        deal.version,
        DealPatch::default().custom("discount", None),
    ) {
        Err(Error::CustomFieldReadOnly {
            entity: EntityKind::Deal,
            id,
            key,
            ..
        }) => assert_eq!((id, key.as_str()), (deal.id.to_string(), "discount")),
        other => panic!("a rep may not clear a read-only field, got {other:?}"),
    }
    a.update_deal(
        deal.id,
        deal.version,
        DealPatch::default().custom("seats", Some(CustomValue::Integer(4))),
    )
    .expect("seats are the rep's to change");
}

/// A rule runs as the system, so saving one checks its author's field
/// rules: a trigger or condition on a field hidden from them is refused,
/// and so is an action setting a custom field read-only for them.
pub fn rules_cannot_read_or_write_past_their_authors_field_rules<S: Store>(store: S) {
    use crate::automation::{Action, NewRule, Trigger};
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    system
        .set_custom_fields(
            EntityKind::Customer,
            0,
            vec![
                FieldDef::new("secret", "Secret", FieldType::Text)
                    .hidden_from([AccessRole::SalesManager]),
                FieldDef::new("grade", "Grade", FieldType::Text)
                    .read_only_for([AccessRole::SalesManager]),
            ],
        )
        .expect("fields");
    let boss = system
        .create_user(NewUser::new("Boss", "boss@example.com").role(AccessRole::SalesManager))
        .expect("boss");
    let m = w.crm.as_user(boss.id);
    let trigger = || Trigger::field_changed(EntityKind::Customer, "name");
    let hidden = |r: Result<automation::Rule>| match r {
        Err(Error::CustomFieldHidden {
            entity: EntityKind::Customer,
            key,
            ..
        }) => assert_eq!(key, "secret"),
        other => panic!("expected the hidden field to be refused, got {other:?}"),
    };
    let tag = || Action::AddTag { tag: "seen".into() };
    hidden(
        m.create_rule(
            NewRule::new("Peek", trigger())
                .condition("field.secret = x".parse().expect("expr"))
                .action(tag()),
        ),
    );
    hidden(
        m.create_rule(
            NewRule::new(
                "Watch",
                Trigger::field_changed(EntityKind::Customer, "custom.secret"),
            )
            .action(tag()),
        ),
    );
    let set = |field: &str| Action::SetField {
        entity: EntityKind::Customer,
        field: field.into(),
        value: serde_json::json!({"type": "text", "value": "A"}),
    };
    hidden(m.create_rule(NewRule::new("Overwrite", trigger()).action(set("custom.secret"))));
    let err = m
        .create_rule(NewRule::new("Grade", trigger()).action(set("custom.grade")))
        .expect_err("read-only for the author");
    assert_eq!(
        err.to_string(),
        "invalid rule.actions[0].field \"custom.grade\": the field is read-only for your roles, so a rule of yours may not change it"
    );
    // The system, and fields the author may use, are fine.
    system
        .create_rule(NewRule::new("Grade", trigger()).action(set("custom.grade")))
        .expect("the system may");
    m.create_rule(
        NewRule::new("Fine", trigger())
            .condition("field.grade = A".parse().expect("expr"))
            .action(tag()),
    )
    .expect("a readable field");
}

/// A rule set off by a user's change fails on a record that user cannot
/// read: the error names the rule and the user's own record, not the
/// hidden one; the system is told everything.
pub fn rule_failures_name_no_hidden_record<S: Store>(store: S) {
    use crate::automation::{Action, NewRule, Trigger};
    let w = world(store);
    let system = w.crm.as_actor(Actor::System);
    let rule = system
        .create_rule(
            NewRule::new("Churn on win", Trigger::DealWon).action(Action::SetLifecycle {
                to: Lifecycle::Churned,
            }),
        )
        .expect("rule");
    // Bo's customer (a lead: it may not churn), Ana's deal on it.
    let bos = system
        .create_customer(NewCustomer::organisation("Bo's").owner(w.bo.id))
        .expect("bo's customer");
    let deal = system
        .create_deal(NewDeal::new(bos.id, w.pipeline.id, "Shared").owner(w.ana.id))
        .expect("ana's deal");
    let before = event_count(&w.crm);
    let err = w
        .crm
        .as_user(w.ana.id)
        .win_deal(deal.id, deal.version)
        .expect_err("the rule fails");
    assert_eq!(
        err.to_string(),
        format!(
            "automation rule 'Churn on win' ({}) failed: permission denied: user {} may not update deal {}: it would change customers records outside their read scope",
            rule.id, w.ana.id, deal.id
        )
    );
    assert!(!err.to_string().contains(&bos.id.to_string()));
    assert_eq!(event_count(&w.crm), before, "nothing of the win was kept");
    // The system may read the customer: it is told which and why.
    let err = system
        .win_deal(deal.id, deal.version)
        .expect_err("the rule fails");
    assert!(
        matches!(&err, Error::Rule { source, .. } if matches!(**source, Error::LifecycleNotAllowed { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains(&bos.id.to_string()), "{err}");
}
