//! The operation table: one entry per operation, in documentation order.
//! The dispatcher, the generated documentation (`doc/operations.md` and
//! the list in `crm.h`) and the coverage test all read it.

use crm_core::automation::{DueReport, Notification, Rule};
use crm_core::backup::BackupCounts;
use crm_core::custom_field::FieldSchema;
use crm_core::duplicate::{DuplicateOptions, DuplicateReport};
use crm_core::external_key::ExternalKey;
use crm_core::feed::{FeedConsumer, FeedPage, NewFeedConsumer, OutboxPage};
use crm_core::import::ImportReport;
use crm_core::kpi::activity::ActivityMetrics;
use crm_core::kpi::clv::Clv;
use crm_core::kpi::customer::{Churn, PurchaseSummary, RepeatPurchase};
use crm_core::kpi::deal_size::DealSize;
use crm_core::kpi::forecast::Forecast;
use crm_core::kpi::funnel::Funnel;
use crm_core::kpi::report::KpiReport;
use crm_core::kpi::response::FirstResponse;
use crm_core::kpi::rotting::RottingDeal;
use crm_core::kpi::velocity::Velocity;
use crm_core::kpi::win_rate::{CloseRate, WinRate};
use crm_core::kpi::{DurationStats, PerCurrency};
use crm_core::predict::{CustomerScores, ScoreRunReport, Week};
use crm_core::query::{ActivityQuery, CustomerQuery, DealQuery, EventQuery, PipelineQuery};
use crm_core::query::{Page, TeamQuery, UserQuery};
use crm_core::schema::DateMap;
use crm_core::segment::abc::CustomerAbc;
use crm_core::segment::rfm::CustomerRfm;
use crm_core::{
    Activity, ActivityId, Customer, CustomerId, Deal, DealId, Event, Field, NewActivity,
    NewCustomer, NewDeal, NewTeam, NewUser, NotificationId, Pipeline, PipelineDef, PipelineId,
    RuleId, Segment, SegmentId, SegmentQuery, SegmentResult, Team, TeamId, User, UserId,
};
use crm_core::{ActivityUpsert, CustomerUpsert, DealUpsert, Upserted};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Run::{Read, Step, Write};
use super::paging::MaybePaged;
use super::{
    ById, Count, Ctx, Empty, Operation, Versioned, access, activity, admin, automation, backup,
    batch, custom_field, customer, deal, event, export, external_key, feed, find, import, io, json,
    kpi, pipeline, predict, req, segment, store,
};
use crate::status::{CrmStatus, Failure};

/// Every operation `crm_call` accepts, in documentation order.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        name: "customer.create",
        summary: "Creates a customer (person or organisation).",
        request: "NewCustomer",
        response: "Customer",
        schema: io::<NewCustomer, Customer>(),
        covers: &["create_customer"],
        run: Step(customer::create),
    },
    Operation {
        name: "customer.get",
        summary: "One customer by id.",
        request: "{\"id\"}",
        response: "Customer",
        schema: io::<ById<CustomerId>, Customer>(),
        covers: &["customer"],
        run: Read(customer::get),
    },
    Operation {
        name: "customer.update",
        summary: "Changes a customer at `version`.",
        request: "{\"id\",\"version\",\"patch\": CustomerPatch}",
        response: "Customer",
        schema: io::<customer::Update, Customer>(),
        covers: &["update_customer"],
        run: Step(customer::update),
    },
    Operation {
        name: "customer.list",
        summary: "A page of customers.",
        request: "CustomerQuery ({} = first page)",
        response: "Page<Customer>",
        schema: io::<CustomerQuery, Page<Customer>>(),
        covers: &["customers"],
        run: Read(customer::list),
    },
    Operation {
        name: "customer.count",
        summary: "How many customers match a filter.",
        request: "{\"filter\"?: CustomerFilter}",
        response: "{\"count\"}",
        schema: io::<customer::CountRequest, Count>(),
        covers: &["count_customers"],
        run: Read(customer::count),
    },
    Operation {
        name: "customer.merge",
        summary: "Merges one customer into another.",
        request: "{\"survivor\",\"survivor_version\",\"merged\",\"merged_version\",\"policy\"?: MergePolicy}",
        response: "Customer (the survivor)",
        schema: io::<customer::Merge, Customer>(),
        covers: &["merge_customers"],
        run: Step(customer::merge),
    },
    Operation {
        name: "customer.duplicates",
        summary: "Finds customers that are probably the same party.",
        request: "DuplicateOptions ({} = defaults)",
        response: "DuplicateReport",
        schema: io::<DuplicateOptions, DuplicateReport>(),
        covers: &["find_duplicates"],
        run: Read(customer::duplicates),
    },
    Operation {
        name: "customer.import",
        summary: "Imports customers from CSV.",
        request: "{\"csv\"} or {\"path\"}, \"options\"?: ImportOptions",
        response: "ImportReport",
        schema: io::<import::Import, ImportReport>(),
        covers: &["import_customers"],
        run: Write(import::customers),
    },
    Operation {
        name: "customer.export",
        summary: "Exports the customers the actor may read as CSV.",
        request: "{\"path\"?}",
        response: "{\"rows\",\"csv\"} or {\"rows\",\"path\"}",
        schema: io::<export::Export, export::Exported>(),
        covers: &["export_customers"],
        run: Read(export::customers),
    },
    Operation {
        name: "customer.upsert",
        summary: "Creates or updates the customer holding an external key (create_or_update, update_only, create_only); an identical upsert changes nothing.",
        request: "{\"key\": {\"system\",\"key\"},\"mode\"?: \"create_or_update\"|\"update_only\"|\"create_only\",\"expected_version\"?,\"record\": NewCustomer}",
        response: "{\"record\": Customer, \"outcome\": \"created\"|\"updated\"|\"unchanged\"}",
        schema: io::<CustomerUpsert, Upserted<Customer>>(),
        covers: &["upsert_customer"],
        run: Step(external_key::upsert_customer),
    },
    Operation {
        name: "customer.get_by_key",
        summary: "The customer holding an external key.",
        request: "{\"system\",\"key\"}",
        response: "Customer",
        schema: io::<ExternalKey, Customer>(),
        covers: &["customer_by_key"],
        run: Read(external_key::customer_by_key),
    },
    Operation {
        name: "customer.find_by_phone",
        summary: "Caller ID: the customers with a phone number, in any common format (national ones with a default region).",
        request: "{\"number\",\"default_region\"?}",
        response: "[Customer]",
        schema: io::<external_key::ByPhone, Vec<Customer>>(),
        covers: &["customers_by_phone"],
        run: Read(external_key::find_by_phone),
    },
    Operation {
        name: "customer.find_by_domain",
        summary: "The organisations an e-mail domain (or address) belongs to.",
        request: "{\"domain\"}",
        response: "[Customer]",
        schema: io::<external_key::ByDomain, Vec<Customer>>(),
        covers: &["organisations_by_domain"],
        run: Read(external_key::find_by_domain),
    },
    Operation {
        name: "external_key.list",
        summary: "The external keys a customer, deal or activity holds.",
        request: "{\"record\": {\"customer\"|\"deal\"|\"activity\": id}}",
        response: "[{\"system\",\"key\"}]",
        schema: io::<external_key::OfRecord, Vec<ExternalKey>>(),
        covers: &["external_keys"],
        run: Read(external_key::list),
    },
    Operation {
        name: "external_key.set",
        summary: "Replaces the external keys of a customer, deal or activity at `version`.",
        request: "{\"record\": {\"customer\"|\"deal\"|\"activity\": id},\"version\",\"keys\"}",
        response: "{\"version\"}",
        schema: io::<external_key::SetKeys, external_key::NewVersion>(),
        covers: &["set_external_keys"],
        run: Step(external_key::set),
    },
    Operation {
        name: "pipeline.create",
        summary: "Creates a pipeline from a definition.",
        request: "PipelineDef",
        response: "Pipeline",
        schema: io::<PipelineDef, Pipeline>(),
        covers: &["create_pipeline"],
        run: Step(pipeline::create),
    },
    Operation {
        name: "pipeline.get",
        summary: "One pipeline by id.",
        request: "{\"id\"}",
        response: "Pipeline",
        schema: io::<ById<PipelineId>, Pipeline>(),
        covers: &["pipeline"],
        run: Read(pipeline::get),
    },
    Operation {
        name: "pipeline.list",
        summary: "A page of pipelines.",
        request: "PipelineQuery",
        response: "Page<Pipeline>",
        schema: io::<PipelineQuery, Page<Pipeline>>(),
        covers: &["pipelines"],
        run: Read(pipeline::list),
    },
    Operation {
        name: "pipeline.update",
        summary: "Replaces a pipeline's definition; deals in removed stages move as mapped.",
        request: "{\"id\",\"version\",\"definition\": PipelineDef,\"mapping\"?: {old key: new key}}",
        response: "Pipeline",
        schema: io::<pipeline::Update, Pipeline>(),
        covers: &["update_pipeline"],
        run: Step(pipeline::update),
    },
    Operation {
        name: "deal.create",
        summary: "Creates a deal.",
        request: "NewDeal",
        response: "Deal",
        schema: io::<NewDeal, Deal>(),
        covers: &["create_deal"],
        run: Step(deal::create),
    },
    Operation {
        name: "deal.get",
        summary: "One deal by id.",
        request: "{\"id\"}",
        response: "Deal",
        schema: io::<ById<DealId>, Deal>(),
        covers: &["deal"],
        run: Read(deal::get),
    },
    Operation {
        name: "deal.upsert",
        summary: "Creates or updates the deal holding an external key; a closed deal stays frozen.",
        request: "{\"key\": {\"system\",\"key\"},\"mode\"?: \"create_or_update\"|\"update_only\"|\"create_only\",\"expected_version\"?,\"record\": NewDeal}",
        response: "{\"record\": Deal, \"outcome\"}",
        schema: io::<DealUpsert, Upserted<Deal>>(),
        covers: &["upsert_deal"],
        run: Step(external_key::upsert_deal),
    },
    Operation {
        name: "deal.get_by_key",
        summary: "The deal holding an external key.",
        request: "{\"system\",\"key\"}",
        response: "Deal",
        schema: io::<ExternalKey, Deal>(),
        covers: &["deal_by_key"],
        run: Read(external_key::deal_by_key),
    },
    Operation {
        name: "deal.list",
        summary: "A page of deals.",
        request: "DealQuery",
        response: "Page<Deal>",
        schema: io::<DealQuery, Page<Deal>>(),
        covers: &["deals"],
        run: Read(deal::list),
    },
    Operation {
        name: "deal.count",
        summary: "How many deals match a filter.",
        request: "{\"filter\"?: DealFilter}",
        response: "{\"count\"}",
        schema: io::<deal::CountRequest, Count>(),
        covers: &["count_deals"],
        run: Read(deal::count),
    },
    Operation {
        name: "deal.update",
        summary: "Changes a deal's fields (amount, close date, owner, ...).",
        request: "{\"id\",\"version\",\"patch\": DealPatch}",
        response: "Deal",
        schema: io::<deal::Update, Deal>(),
        covers: &["update_deal"],
        run: Step(deal::update),
    },
    Operation {
        name: "deal.correct",
        summary: "Corrects a won or lost deal's fields, with the reason recorded in its event (a closed deal is otherwise frozen).",
        request: "{\"id\",\"version\",\"patch\": DealPatch,\"reason\"}",
        response: "Deal",
        schema: io::<deal::Correct, Deal>(),
        covers: &["correct_deal"],
        run: Step(deal::correct),
    },
    Operation {
        name: "deal.move",
        summary: "Moves a deal to a stage.",
        request: "{\"id\",\"version\",\"stage\"}",
        response: "Deal",
        schema: io::<deal::Move, Deal>(),
        covers: &["move_deal"],
        run: Step(deal::move_to),
    },
    Operation {
        name: "deal.win",
        summary: "Moves a deal to its pipeline's won stage.",
        request: "{\"id\",\"version\"}",
        response: "Deal",
        schema: io::<Versioned<DealId>, Deal>(),
        covers: &["win_deal"],
        run: Step(deal::win),
    },
    Operation {
        name: "deal.lose",
        summary: "Moves a deal to its pipeline's lost stage, with a reason.",
        request: "{\"id\",\"version\",\"reason\"}",
        response: "Deal",
        schema: io::<deal::Lose, Deal>(),
        covers: &["lose_deal"],
        run: Step(deal::lose),
    },
    Operation {
        name: "deal.lose_in",
        summary: "Moves a deal to a lost stage named by key, with a reason.",
        request: "{\"id\",\"version\",\"stage\",\"reason\"}",
        response: "Deal",
        schema: io::<deal::LoseIn, Deal>(),
        covers: &["lose_deal_in"],
        run: Step(deal::lose_in),
    },
    Operation {
        name: "deal.reopen",
        summary: "Reopens a won or lost deal.",
        request: "{\"id\",\"version\",\"stage\"?}",
        response: "Deal",
        schema: io::<deal::Reopen, Deal>(),
        covers: &["reopen_deal"],
        run: Step(deal::reopen),
    },
    Operation {
        name: "deal.import",
        summary: "Imports deals with their history from CSV.",
        request: "{\"csv\"} or {\"path\"}, \"options\"?: ImportOptions",
        response: "ImportReport",
        schema: io::<import::Import, ImportReport>(),
        covers: &["import_deals"],
        run: Write(import::deals),
    },
    Operation {
        name: "deal.export",
        summary: "Exports the deals the actor may read as CSV.",
        request: "{\"path\"?}",
        response: "{\"rows\",\"csv\"} or {\"rows\",\"path\"}",
        schema: io::<export::Export, export::Exported>(),
        covers: &["export_deals"],
        run: Read(export::deals),
    },
    Operation {
        name: "activity.log",
        summary: "Logs an activity or creates a task.",
        request: "NewActivity",
        response: "Activity",
        schema: io::<NewActivity, Activity>(),
        covers: &["log_activity"],
        run: Step(activity::log),
    },
    Operation {
        name: "activity.get",
        summary: "One activity by id.",
        request: "{\"id\"}",
        response: "Activity",
        schema: io::<ById<ActivityId>, Activity>(),
        covers: &["activity"],
        run: Read(activity::get),
    },
    Operation {
        name: "activity.upsert",
        summary: "Logs the activity holding an external key unless it is logged already (an activity is never rewritten).",
        request: "{\"key\": {\"system\",\"key\"},\"mode\"?: \"create_or_update\"|\"update_only\"|\"create_only\",\"expected_version\"?,\"record\": NewActivity}",
        response: "{\"record\": Activity, \"outcome\"}",
        schema: io::<ActivityUpsert, Upserted<Activity>>(),
        covers: &["upsert_activity"],
        run: Step(external_key::upsert_activity),
    },
    Operation {
        name: "activity.get_by_key",
        summary: "The activity holding an external key.",
        request: "{\"system\",\"key\"}",
        response: "Activity",
        schema: io::<ExternalKey, Activity>(),
        covers: &["activity_by_key"],
        run: Read(external_key::activity_by_key),
    },
    Operation {
        name: "activity.list",
        summary: "A page of activities.",
        request: "ActivityQuery",
        response: "Page<Activity>",
        schema: io::<ActivityQuery, Page<Activity>>(),
        covers: &["activities"],
        run: Read(activity::list),
    },
    Operation {
        name: "activity.complete",
        summary: "Marks a task done.",
        request: "{\"id\",\"version\"}",
        response: "Activity",
        schema: io::<Versioned<ActivityId>, Activity>(),
        covers: &["complete_task"],
        run: Step(activity::complete),
    },
    Operation {
        name: "activity.import",
        summary: "Imports activities from CSV.",
        request: "{\"csv\"} or {\"path\"}, \"options\"?: ImportOptions",
        response: "ImportReport",
        schema: io::<import::Import, ImportReport>(),
        covers: &["import_activities"],
        run: Write(import::activities),
    },
    Operation {
        name: "activity.export",
        summary: "Exports the activities the actor may read as CSV.",
        request: "{\"path\"?}",
        response: "{\"rows\",\"csv\"} or {\"rows\",\"path\"}",
        schema: io::<export::Export, export::Exported>(),
        covers: &["export_activities"],
        run: Read(export::activities),
    },
    Operation {
        name: "segment.create",
        summary: "Saves a segment.",
        request: "{\"name\",\"expression\"} (segment text or Expr JSON)",
        response: "Segment",
        schema: io::<segment::Create, Segment>(),
        covers: &["create_segment"],
        run: Write(segment::create),
    },
    Operation {
        name: "segment.get",
        summary: "One saved segment by id.",
        request: "{\"id\"}",
        response: "Segment",
        schema: io::<ById<SegmentId>, Segment>(),
        covers: &["segment"],
        run: Read(segment::get),
    },
    Operation {
        name: "segment.list",
        summary: "A page of saved segments.",
        request: "SegmentQuery",
        response: "Page<Segment>",
        schema: io::<SegmentQuery, Page<Segment>>(),
        covers: &["segments"],
        run: Read(segment::list),
    },
    Operation {
        name: "segment.update",
        summary: "Renames a segment or changes its expression.",
        request: "{\"id\",\"version\",\"name\"?,\"expression\"?}",
        response: "Segment",
        schema: io::<segment::Update, Segment>(),
        covers: &["update_segment"],
        run: Write(segment::update),
    },
    Operation {
        name: "segment.delete",
        summary: "Deletes a saved segment.",
        request: "{\"id\",\"version\"}",
        response: "{\"id\",\"deleted\": true}",
        schema: io::<Versioned<SegmentId>, segment::Deleted>(),
        covers: &["delete_segment"],
        run: Write(segment::delete),
    },
    Operation {
        name: "segment.evaluate",
        summary: "The customers in a saved segment or an expression, a page at a time.",
        request: "{\"id\"} or {\"expression\"}, \"page\"?: PageRequest, \"now\"?: time",
        response: "SegmentResult",
        schema: io::<segment::Evaluate, SegmentResult>(),
        covers: &["evaluate_segment", "evaluate_expr"],
        run: Read(segment::evaluate),
    },
    Operation {
        name: "segment.rfm",
        summary: "Recency, frequency and monetary scores of every customer with purchases.",
        request: "{\"currency\",\"window\"?: {\"days\"},\"page\"?: {\"limit\"?,\"after\"?},\"now\"?}",
        response: "[CustomerRfm], or {\"items\",\"next\"} with \"page\"",
        schema: io::<segment::Rfm, MaybePaged<CustomerRfm, CustomerId>>(),
        covers: &["rfm"],
        run: Read(segment::rfm),
    },
    Operation {
        name: "segment.abc",
        summary: "ABC classes of customers by revenue.",
        request: "{\"currency\",\"window\"?: {\"days\"},\"cutoffs\"?: AbcCutoffs,\"page\"?,\"now\"?}",
        response: "[CustomerAbc], or {\"items\",\"next\"} with \"page\"",
        schema: io::<segment::Abc, MaybePaged<CustomerAbc, CustomerId>>(),
        covers: &["abc"],
        run: Read(segment::abc),
    },
    Operation {
        name: "custom_fields.get",
        summary: "The custom fields of an entity type.",
        request: "{\"entity\": \"customer\" | \"deal\" | \"activity\"}",
        response: "FieldSchema",
        schema: io::<custom_field::Get, FieldSchema>(),
        covers: &["custom_fields"],
        run: Read(custom_field::get),
    },
    Operation {
        name: "custom_fields.set",
        summary: "Replaces the custom fields of an entity type (schema at `version`, 0 the first time).",
        request: "{\"entity\",\"version\",\"fields\": [FieldDef]}",
        response: "FieldSchema",
        schema: io::<custom_field::Set, FieldSchema>(),
        covers: &["set_custom_fields"],
        run: Step(custom_field::set),
    },
    Operation {
        name: "kpi.report",
        summary: "Every KPI in one report.",
        request: "{\"filter\"?: KpiFilter,\"period\"?,\"zone\"?,\"response\"?: {\"calendar\",\"sla_minutes\"?},\"rotting\"?: RottingThresholds,\"clv\"?: ClvParams,\"now\"?}",
        response: "KpiReport",
        schema: io::<kpi::Report, KpiReport>(),
        covers: &["kpi_report"],
        run: Read(kpi::report),
    },
    Operation {
        name: "kpi.win_rate",
        summary: "Win rate of the deals in scope.",
        request: "{\"filter\"?}",
        response: "WinRate",
        schema: io::<kpi::Filtered, WinRate>(),
        covers: &["win_rate"],
        run: Read(kpi::win_rate),
    },
    Operation {
        name: "kpi.close_rate",
        summary: "Close rate of the deals in scope.",
        request: "{\"filter\"?}",
        response: "CloseRate",
        schema: io::<kpi::Filtered, CloseRate>(),
        covers: &["close_rate"],
        run: Read(kpi::close_rate),
    },
    Operation {
        name: "kpi.funnel",
        summary: "Stage funnel of one pipeline.",
        request: "{\"pipeline\",\"filter\"?}",
        response: "Funnel",
        schema: io::<kpi::Funnel, Funnel>(),
        covers: &["stage_funnel"],
        run: Read(kpi::funnel),
    },
    Operation {
        name: "kpi.deal_size",
        summary: "Size of the deals won in the window.",
        request: "{\"filter\"?}",
        response: "DealSize",
        schema: io::<kpi::Filtered, DealSize>(),
        covers: &["deal_size"],
        run: Read(kpi::deal_size),
    },
    Operation {
        name: "kpi.sales_cycle",
        summary: "Sales cycle of the deals won in the window.",
        request: "{\"filter\"?}",
        response: "DurationStats",
        schema: io::<kpi::Filtered, DurationStats>(),
        covers: &["sales_cycle"],
        run: Read(kpi::sales_cycle),
    },
    Operation {
        name: "kpi.sales_velocity",
        summary: "Sales velocity per currency.",
        request: "{\"filter\"?}",
        response: "{currency: Velocity}",
        schema: io::<kpi::Filtered, PerCurrency<Velocity>>(),
        covers: &["sales_velocity"],
        run: Read(kpi::sales_velocity),
    },
    Operation {
        name: "kpi.forecast",
        summary: "Forecast of the open deals in scope.",
        request: "{\"filter\"?}",
        response: "Forecast",
        schema: io::<kpi::Filtered, Forecast>(),
        covers: &["forecast"],
        run: Read(kpi::forecast),
    },
    Operation {
        name: "kpi.revenue",
        summary: "Won revenue per period.",
        request: "{\"filter\"?,\"period\"?,\"zone\"?}",
        response: "Revenue",
        schema: io::<kpi::Periodic, PerCurrency<DateMap<Decimal>>>(),
        covers: &["revenue_by_period"],
        run: Read(kpi::revenue),
    },
    Operation {
        name: "kpi.new_customers",
        summary: "New customers per period.",
        request: "{\"filter\"?,\"period\"?,\"zone\"?}",
        response: "{date: count}",
        schema: io::<kpi::Periodic, DateMap<u64>>(),
        covers: &["new_customers"],
        run: Read(kpi::new_customers),
    },
    Operation {
        name: "kpi.churn",
        summary: "Churn and retention over the window (which needs both ends).",
        request: "{\"filter\"?}",
        response: "Churn",
        schema: io::<kpi::Filtered, Churn>(),
        covers: &["churn"],
        run: Read(kpi::churn),
    },
    Operation {
        name: "kpi.repeat_purchase_rate",
        summary: "Share of customers who bought more than once.",
        request: "{\"filter\"?,\"zone\"?}",
        response: "RepeatPurchase",
        schema: io::<kpi::Zoned, RepeatPurchase>(),
        covers: &["repeat_purchase_rate"],
        run: Read(kpi::repeat_purchase_rate),
    },
    Operation {
        name: "kpi.purchase_summaries",
        summary: "Frequency, recency, age and monetary value per customer.",
        request: "{\"filter\"?,\"observation_end\"?,\"zone\"?,\"page\"?}",
        response: "[PurchaseSummary], or {\"items\",\"next\"} with \"page\"",
        schema: io::<kpi::Summaries, MaybePaged<PurchaseSummary, CustomerId>>(),
        covers: &["purchase_summaries"],
        run: Read(kpi::purchase_summaries),
    },
    Operation {
        name: "kpi.historical_clv",
        summary: "Historical customer lifetime value.",
        request: "{\"filter\"?,\"observation_end\"?,\"zone\"?,\"clv\"?: ClvParams}",
        response: "Clv",
        schema: io::<kpi::Observed, Clv>(),
        covers: &["historical_clv"],
        run: Read(kpi::historical_clv),
    },
    Operation {
        name: "kpi.rotting_deals",
        summary: "Open deals idle longer than their stage allows.",
        request: "{\"filter\"?,\"thresholds\"?: RottingThresholds,\"now\"?}",
        response: "[RottingDeal]",
        schema: io::<kpi::Rotting, Vec<RottingDeal>>(),
        covers: &["rotting_deals"],
        run: Read(kpi::rotting_deals),
    },
    Operation {
        name: "kpi.activity_metrics",
        summary: "Activity counts and task figures.",
        request: "{\"filter\"?,\"now\"?}",
        response: "ActivityMetrics",
        schema: io::<kpi::AsOf, ActivityMetrics>(),
        covers: &["activity_metrics"],
        run: Read(kpi::activity_metrics),
    },
    Operation {
        name: "kpi.first_response",
        summary: "First-response time and SLA attainment of leads.",
        request: "{\"filter\"?,\"calendar\": BusinessCalendar,\"sla_minutes\"?,\"now\"?}",
        response: "FirstResponse",
        schema: io::<kpi::FirstResponse, FirstResponse>(),
        covers: &["first_response"],
        run: Read(kpi::first_response),
    },
    Operation {
        name: "event.list",
        summary: "A page of the audit log.",
        request: "EventQuery",
        response: "Page<Event>",
        schema: io::<EventQuery, Page<Event>>(),
        covers: &["events"],
        run: Read(event::list),
    },
    Operation {
        name: "user.create",
        summary: "Creates a user (admins only).",
        request: "NewUser",
        response: "User",
        schema: io::<NewUser, User>(),
        covers: &["create_user"],
        run: Step(admin::create_user),
    },
    Operation {
        name: "user.get",
        summary: "One user by id.",
        request: "{\"id\"}",
        response: "User",
        schema: io::<ById<UserId>, User>(),
        covers: &["user"],
        run: Read(admin::get_user),
    },
    Operation {
        name: "user.list",
        summary: "A page of users.",
        request: "UserQuery",
        response: "Page<User>",
        schema: io::<UserQuery, Page<User>>(),
        covers: &["users"],
        run: Read(admin::list_users),
    },
    Operation {
        name: "user.update",
        summary: "Changes a user's name or e-mail.",
        request: "{\"id\",\"version\",\"patch\": UserPatch}",
        response: "User",
        schema: io::<admin::Update, User>(),
        covers: &["update_user"],
        run: Step(admin::update_user),
    },
    Operation {
        name: "user.deactivate",
        summary: "Deactivates a user.",
        request: "{\"id\",\"version\"}",
        response: "User",
        schema: io::<Versioned<UserId>, User>(),
        covers: &["deactivate_user"],
        run: Step(admin::deactivate_user),
    },
    Operation {
        name: "user.reactivate",
        summary: "Reactivates a user.",
        request: "{\"id\",\"version\"}",
        response: "User",
        schema: io::<Versioned<UserId>, User>(),
        covers: &["reactivate_user"],
        run: Step(admin::reactivate_user),
    },
    Operation {
        name: "user.set_roles",
        summary: "Replaces a user's roles.",
        request: "{\"id\",\"version\",\"roles\": [AccessRole]}",
        response: "User",
        schema: io::<admin::SetRoles, User>(),
        covers: &["set_user_roles"],
        run: Step(admin::set_user_roles),
    },
    Operation {
        name: "team.create",
        summary: "Creates a team (admins only).",
        request: "NewTeam",
        response: "Team",
        schema: io::<NewTeam, Team>(),
        covers: &["create_team"],
        run: Step(admin::create_team),
    },
    Operation {
        name: "team.get",
        summary: "One team by id.",
        request: "{\"id\"}",
        response: "Team",
        schema: io::<ById<TeamId>, Team>(),
        covers: &["team"],
        run: Read(admin::get_team),
    },
    Operation {
        name: "team.list",
        summary: "A page of teams.",
        request: "TeamQuery",
        response: "Page<Team>",
        schema: io::<TeamQuery, Page<Team>>(),
        covers: &["teams"],
        run: Read(admin::list_teams),
    },
    Operation {
        name: "team.add_member",
        summary: "Adds a user to a team.",
        request: "{\"team\",\"user\"}",
        response: "User",
        schema: io::<admin::Membership, User>(),
        covers: &["add_team_member"],
        run: Step(admin::add_member),
    },
    Operation {
        name: "team.remove_member",
        summary: "Removes a user from a team.",
        request: "{\"team\",\"user\"}",
        response: "User",
        schema: io::<admin::Membership, User>(),
        covers: &["remove_team_member"],
        run: Step(admin::remove_member),
    },
    Operation {
        name: "team.set_manager",
        summary: "Sets or clears a team's manager.",
        request: "{\"id\",\"version\",\"manager\": id or null}",
        response: "Team",
        schema: io::<admin::SetManager, Team>(),
        covers: &["set_team_manager"],
        run: Step(admin::set_manager),
    },
    Operation {
        name: "access.permissions",
        summary: "What the actor may do: scopes per resource, hidden and read-only fields.",
        request: "{}",
        response: "{\"resources\": [{\"resource\",\"read\",\"write\"}],\"hidden\": [Field],\"read_only\": [Field]}",
        schema: io::<Empty, access::Permissions>(),
        covers: &["permissions"],
        run: Read(access::permissions),
    },
    Operation {
        name: "access.hidden_fields",
        summary: "The fields the actor cannot see.",
        request: "{}",
        response: "[Field]",
        schema: io::<Empty, Vec<Field>>(),
        covers: &["hidden_fields"],
        run: Read(access::hidden_fields),
    },
    Operation {
        name: "predict.fit",
        summary: "Fits the BG/NBD and Gamma-Gamma models.",
        request: "{\"observation\",\"unit\"?,\"l2_penalty\"?,\"spend_l2_penalty\"?,\"max_iterations\"?}",
        response: "{\"bg_nbd\": BgNbdFit,\"gamma_gamma\": GammaGammaFit}",
        schema: io::<predict::FitRequest, predict::Fits<Week>>(),
        covers: &["fit_bgnbd", "fit_gamma_gamma"],
        run: Read(predict::fit),
    },
    Operation {
        name: "predict.score",
        summary: "Every customer's scores under given parameters.",
        request: "{\"observation\",\"unit\"?,\"bg_nbd\",\"gamma_gamma\"?,\"clv\",\"page\"?}",
        response: "[CustomerScores], or {\"items\",\"next\"} with \"page\"",
        schema: io::<predict::ScoreRequest, MaybePaged<CustomerScores, CustomerId>>(),
        covers: &["predict_scores"],
        run: Read(predict::score),
    },
    Operation {
        name: "predict.write_scores",
        summary: "Fits the models and writes every customer's scores.",
        request: "{\"observation\",\"unit\"?,\"clv\",\"l2_penalty\"?,\"spend_l2_penalty\"?,\"max_iterations\"?}",
        response: "ScoreRunReport",
        schema: io::<predict::WriteRequest, ScoreRunReport<Week>>(),
        covers: &["write_scores"],
        run: Write(predict::write_scores),
    },
    Operation {
        name: "rule.create",
        summary: "Saves an automation rule (process admins).",
        request: "{\"name\",\"trigger\",\"actions\",\"condition\"?,\"active\"?}",
        response: "Rule",
        schema: io::<automation::RuleRequest, Rule>(),
        covers: &["create_rule"],
        run: Step(automation::create_rule),
    },
    Operation {
        name: "rule.get",
        summary: "One rule by id.",
        request: "{\"id\"}",
        response: "Rule",
        schema: io::<ById<RuleId>, Rule>(),
        covers: &["rule"],
        run: Read(automation::get_rule),
    },
    Operation {
        name: "rule.list",
        summary: "Every rule.",
        request: "{}",
        response: "[Rule]",
        schema: io::<Empty, Vec<Rule>>(),
        covers: &["rules"],
        run: Read(automation::list_rules),
    },
    Operation {
        name: "rule.update",
        summary: "Replaces a rule's definition.",
        request: "{\"id\",\"version\",\"rule\": {as rule.create}}",
        response: "Rule",
        schema: io::<automation::UpdateRule, Rule>(),
        covers: &["update_rule"],
        run: Step(automation::update_rule),
    },
    Operation {
        name: "automation.run_due",
        summary: "Fires the time rules due now.",
        request: "{\"now\"?} (default: the request's \"at\", else the clock)",
        response: "DueReport",
        schema: io::<automation::RunDue, DueReport>(),
        covers: &["run_due"],
        run: Step(automation::run_due),
    },
    Operation {
        name: "outbox.list",
        summary: "The notifications for the host to deliver, oldest first.",
        request: "{\"include_acknowledged\"?,\"page\"?}",
        response: "[Notification], or {\"items\",\"next\"} with \"page\"",
        schema: io::<automation::OutboxList, MaybePaged<Notification, NotificationId>>(),
        covers: &["outbox"],
        run: Read(automation::list_outbox),
    },
    Operation {
        name: "outbox.acknowledge",
        summary: "Marks a notification delivered.",
        request: "{\"id\",\"version\"}",
        response: "Notification",
        schema: io::<Versioned<NotificationId>, Notification>(),
        covers: &["acknowledge_notification"],
        run: Step(automation::acknowledge),
    },
    // ----- change feed -----
    Operation {
        name: "feed.read",
        summary: "A page of the change feed in commit order: after a position (stateless) or from a named consumer's checkpoint; hidden fields removed.",
        request: "{\"after\"?,\"limit\"?,\"filter\"?: FeedFilter} or {\"consumer\",\"limit\"?}",
        response: "FeedPage",
        schema: io::<feed::Read, FeedPage>(),
        covers: &["feed", "read_feed_consumer"],
        run: Read(feed::read),
    },
    Operation {
        name: "feed.ack",
        summary: "Moves a consumer's checkpoint forward to `up_to` (a page's next_after); the same number again is a no-op.",
        request: "{\"consumer\",\"up_to\"}",
        response: "FeedConsumer",
        schema: io::<feed::Ack, FeedConsumer>(),
        covers: &["ack_feed_consumer"],
        run: Write(feed::ack),
    },
    Operation {
        name: "feed.consumers",
        summary: "The feed consumers the actor may use, by name, with their checkpoints.",
        request: "{}",
        response: "[FeedConsumer]",
        schema: io::<Empty, Vec<FeedConsumer>>(),
        covers: &["feed_consumers"],
        run: Read(feed::consumers),
    },
    Operation {
        name: "feed.create_consumer",
        summary: "Creates a named, durable feed consumer owned by the actor (audited).",
        request: "NewFeedConsumer",
        response: "FeedConsumer",
        schema: io::<NewFeedConsumer, FeedConsumer>(),
        covers: &["create_feed_consumer"],
        run: Write(feed::create_consumer),
    },
    Operation {
        name: "feed.delete_consumer",
        summary: "Deletes a feed consumer and its checkpoint (audited).",
        request: "{\"consumer\"}",
        response: "{\"consumer\",\"deleted\": true}",
        schema: io::<feed::ByName, feed::Deleted>(),
        covers: &["delete_feed_consumer"],
        run: Write(feed::delete_consumer),
    },
    Operation {
        name: "outbox.read",
        summary: "A page of the outbox through a consumer created with the outbox filter; acknowledge with feed.ack.",
        request: "{\"consumer\",\"limit\"?}",
        response: "OutboxPage",
        schema: io::<feed::OutboxRead, OutboxPage>(),
        covers: &["read_outbox_consumer"],
        run: Read(feed::outbox_read),
    },
    Operation {
        name: "backup.create",
        summary: "A full backup of the store (admins).",
        request: "{\"path\"?}",
        response: "{\"counts\": BackupCounts,\"backup\"} or {\"counts\",\"path\"}",
        schema: io::<backup::Create, backup::Created>(),
        covers: &["backup"],
        run: Read(backup::create),
    },
    Operation {
        name: "backup.restore",
        summary: "Restores a backup into an empty store (admins).",
        request: "{\"backup\"} or {\"path\"}",
        response: "BackupCounts",
        schema: io::<backup::Restore, BackupCounts>(),
        covers: &["restore"],
        run: Write(backup::restore),
    },
    Operation {
        name: "batch",
        summary: "Runs write steps in one transaction, all or nothing; a step may use an earlier step's result with {\"$step\": i, \"field\"?: \"id\"}.",
        request: "{\"steps\": [{\"op\",\"request\"?}]}",
        response: "{\"results\": [each step's response]}",
        schema: io::<batch::BatchRequest, batch::Results>(),
        covers: &["batch"],
        run: Write(batch::run),
    },
    Operation {
        name: "store.verify",
        summary: "Checks the whole store's consistency (events per version, stage history, references, counters); returns the findings, empty when consistent.",
        request: "{}",
        response: "{\"findings\": [Finding]}",
        schema: io::<Empty, store::Verified>(),
        covers: &["verify"],
        run: Read(store::verify),
    },
    Operation {
        name: "ops.list",
        summary: "This table: every operation with its shapes.",
        request: "{}",
        response: "[{\"name\",\"summary\",\"request\",\"response\",\"writes\",\"batchable\"}]",
        schema: io::<Empty, Vec<Listed>>(),
        covers: &[],
        run: Read(list),
    },
    Operation {
        name: "ops.describe",
        summary: "One operation's (or every operation's) JSON Schemas of request and response.",
        request: "{\"op\"?}",
        response: "Described (with \"op\") or [Described]",
        schema: io::<DescribeRequest, Description>(),
        covers: &[],
        run: Read(describe),
    },
];

/// The public methods of `Session` that deliberately have no operation,
/// each with the reason (the coverage test reads this list too).
pub static RUST_ONLY: &[(&str, &str)] = &[
    (
        "actor",
        "every crm_call names its actor in actor_json; there is no session to ask",
    ),
    (
        "at",
        "the \"at\" field of every write request (and of each batch step)",
    ),
];

/// One entry of `ops.list`.
#[derive(Serialize, JsonSchema)]
pub(super) struct Listed {
    /// The operation's name, as `crm_call` takes it.
    name: &'static str,
    /// What it does.
    summary: &'static str,
    /// The request's shape, in the short form of `doc/operations.md`.
    request: &'static str,
    /// The response's shape, in the same short form.
    response: &'static str,
    /// Whether it changes the store (and takes `"at"`).
    writes: bool,
    /// Whether it may be a step of `batch`.
    batchable: bool,
}

/// `ops.list`: the table as JSON, for bindings and tools.
fn list(_: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    let ops: Vec<_> = OPERATIONS
        .iter()
        .map(|o| Listed {
            name: o.name,
            summary: o.summary,
            request: o.request,
            response: o.response,
            writes: o.writes(),
            batchable: o.batchable(),
        })
        .collect();
    json(&ops)
}

/// `ops.describe`: `{}` for every operation, `{"op"}` for one.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DescribeRequest {
    /// The operation to describe (default: all of them, as an array).
    #[serde(default)]
    op: Option<String>,
}

/// One operation with its JSON Schemas (the files `crm-ffi/schema/<op>.*.json`
/// hold the same schemas).
#[derive(Serialize, JsonSchema)]
pub(super) struct Described {
    /// The operation's name.
    name: &'static str,
    /// What it does.
    summary: &'static str,
    /// The JSON Schema (draft 2020-12) of its request.
    request_schema: Value,
    /// The JSON Schema (draft 2020-12) of its successful response.
    response_schema: Value,
    /// Whether it changes the store (and takes `"at"`).
    writes: bool,
    /// Whether it may be a step of `batch`.
    batchable: bool,
}

/// What `ops.describe` answers: one operation (asked by name) or all.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum Description {
    /// The operation asked for.
    One(Described),
    /// Every operation, in table order.
    All(Vec<Described>),
}

impl Described {
    /// The description of `o`.
    pub(super) fn of(o: &Operation) -> Described {
        Described {
            name: o.name,
            summary: o.summary,
            request_schema: o.request_schema(),
            response_schema: o.response_schema(),
            writes: o.writes(),
            batchable: o.batchable(),
        }
    }
}

fn describe(_: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    match req::<DescribeRequest>(request)?.op {
        Some(name) => match find(&name) {
            Some(o) => json(&Description::One(Described::of(o))),
            None => Err(Failure::new(
                CrmStatus::InvalidInput,
                format!("request.op {name:?}: no such operation; ops.list lists them"),
            )
            .at_path("op".to_owned())),
        },
        None => json(&Description::All(
            OPERATIONS.iter().map(Described::of).collect(),
        )),
    }
}
