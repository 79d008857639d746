//! Field rules: hidden and read-only fields on every read and write path.

use super::*;

/// Field rules: support reads deals without amounts (and events without
/// amount changes), cannot filter on the amount, and a rep cannot hand a
/// deal to someone else; the refusals name the field and append nothing.
pub fn field_rules_hide_and_protect<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let rep = system
        .create_user(
            NewUser::new("Rob", "rob@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("rep");
    let mate = system
        .create_user(
            NewUser::new("Meg", "meg@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("mate");
    let sup = system
        .create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))
        .expect("support");
    let p = system
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let r = crm.as_user(rep.id);
    let acme = r
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("customer");
    assert_eq!(acme.owner, Some(rep.id), "a user's new record is theirs");
    let deal = r
        .create_deal(
            NewDeal::new(acme.id, p.id, "Big")
                .amount(Money::parse("1200.50", "EUR").expect("money")),
        )
        .expect("deal");
    assert_eq!(deal.owner, Some(rep.id));

    let s = crm.as_user(sup.id);
    let seen = s.deal(deal.id).expect("support sees the deal");
    assert_eq!(
        (seen.amount, seen.title.as_str()),
        (None, "Big"),
        "amount hidden"
    );
    assert_eq!(s.hidden_fields().expect("hidden"), [Field::DealAmount]);
    let listed = s.deals(&DealQuery::new()).expect("list").items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].amount, None);
    match s.deals(&DealQuery::new().filter(DealFilter {
        amount_set: Some(true),
        ..Default::default()
    })) {
        Err(Error::FieldHidden {
            field: Field::DealAmount,
            ..
        }) => {}
        other => panic!("filtering on a hidden field must be an error, got {other:?}"),
    }
    match s.count_deals(&DealFilter {
        amount_set: Some(false),
        ..Default::default()
    }) {
        Err(Error::FieldHidden {
            field: Field::DealAmount,
            ..
        }) => {}
        other => panic!("counting on a hidden field must be an error, got {other:?}"),
    }
    // The rep sees the amount; the admin-free system too.
    assert_eq!(r.deal(deal.id).expect("rep").amount, deal.amount);
    assert_eq!(
        r.count_deals(&DealFilter {
            amount_set: Some(true),
            ..Default::default()
        })
        .expect("count"),
        1
    );
    // Support is the actor of its own events only; a rep's amount change
    // shows up for an admin-like reader but never with the amount for support.
    let deal = r
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default()
                .amount(Some(Money::parse("99", "EUR").expect("money")))
                .title("Bigger"),
        )
        .expect("rep updates own deal");
    let ro = system
        .create_user(
            NewUser::new("Ria", "ria@example.com")
                .role(AccessRole::ReadOnly)
                .role(AccessRole::Support),
        )
        .expect("read-only + support");
    let log = crm
        .as_user(ro.id)
        .events(&EventQuery::new().filter(EventFilter {
            entity: Some(EntityRef {
                kind: EntityKind::Deal,
                id: deal.id.as_uuid(),
            }),
            ..Default::default()
        }))
        .expect("events");
    assert_eq!(log.items.len(), 2, "read_only reads all events");
    assert!(
        log.items[1].changes.iter().any(|c| c.field == "amount"),
        "read_only does not hide amounts"
    );
    let sup_log = s.events(&EventQuery::new()).expect("events");
    assert!(
        sup_log.items.is_empty(),
        "support's event scope is its own changes"
    );

    // Support writes no deal; a rep may not give a deal away, nor touch a mate's.
    let before = last_seq(crm.store());
    match s.update_deal(deal.id, deal.version, DealPatch::default().title("x")) {
        Err(Error::PermissionDenied {
            resource: Resource::Deals,
            operation: Operation::Update,
            needed: Scope::All,
            granted: Scope::None,
            ..
        }) => {}
        other => panic!("support editing a deal must be refused, got {other:?}"),
    }
    match r.update_deal(
        deal.id,
        deal.version,
        DealPatch::default().owner(Some(mate.id)),
    ) {
        Err(Error::PermissionDenied {
            field: Some(Field::DealOwner),
            operation: Operation::ChangeOwner,
            ..
        }) => {}
        other => panic!("a rep reassigning must be refused, got {other:?}"),
    }
    let m = crm.as_user(mate.id);
    let seen = m.deal(deal.id).expect("a team mate reads the deal");
    let err = m
        .update_deal(deal.id, seen.version, DealPatch::default().title("mine"))
        .expect_err("a mate cannot edit it");
    assert_eq!(
        err.to_string(),
        format!(
            "permission denied: user {} may not update deals record {}: that needs write scope 'team' on deals, their roles grant 'own'",
            mate.id, deal.id
        )
    );
    match m.create_deal(NewDeal::new(acme.id, p.id, "for Rob").owner(rep.id)) {
        Err(Error::PermissionDenied {
            operation: Operation::Create,
            needed: Scope::Team,
            ..
        }) => {}
        other => panic!("a rep creating a deal for a mate must be refused, got {other:?}"),
    }
    assert_eq!(
        last_seq(crm.store()),
        before,
        "refused writes append nothing"
    );
    assert_eq!(
        system.deal(deal.id).expect("deal"),
        deal,
        "and change nothing"
    );
}
