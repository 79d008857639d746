//! Sales pipelines: ordered stages forming a state machine with guards.
//!
//! A [`Pipeline`] has ordered [`Stage`]s, each `open`, `won` or `lost`, with
//! a win probability in percent. Which moves are allowed:
//!
//! - [`Transitions::Any`] (the default): any open stage may move to any other
//!   stage;
//! - [`Transitions::Only`]: an open stage may move only along the listed
//!   edges;
//! - won and lost stages are terminal, unless the pipeline sets
//!   `allow_reopen`; then a closed deal may move back into any open stage
//!   (reopening), whatever the transition mode.
//!
//! [`StageGuard`]s are entry conditions: a deal may enter a stage only if it
//! has what the stage requires (an amount, an expected close date, an owner,
//! a lost reason). They are checked when a deal moves or is created, not
//! re-checked when the pipeline is edited later.
//!
//! A pipeline definition is validated when saved ([`PipelineDef`]):
//! - a non-empty name; at least one stage;
//! - stage keys are unique and well formed (`a`–`z`, `0`–`9`, `_`, `-`,
//!   at most 40 characters, starting with a letter or digit);
//! - at least one open, one won and one lost stage;
//! - probabilities between 0 and 100; won stages are 100, lost stages 0;
//! - a `lost_reason` guard only on lost stages;
//! - explicit transitions name existing stages, start from an open stage and
//!   do not loop to the same stage;
//! - from every open stage some won and some lost stage can be reached.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Error, Result, TransitionRefusal};
use crate::id::PipelineId;

pub(crate) mod guard;
pub(crate) mod stage_key;
pub use guard::StageGuard;
pub use stage_key::{StageKey, StageKeyError};

/// Whether a stage is still in play or closes the deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// The deal is being worked on.
    Open,
    /// The deal was won.
    Won,
    /// The deal was lost.
    Lost,
}

impl StageKind {
    /// `open`, `won` or `lost`.
    pub fn as_str(&self) -> &'static str {
        match self {
            StageKind::Open => "open",
            StageKind::Won => "won",
            StageKind::Lost => "lost",
        }
    }

    /// True for won and lost.
    pub fn is_closed(&self) -> bool {
        !matches!(self, StageKind::Open)
    }
}

impl fmt::Display for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Key, unique within the pipeline.
    pub key: StageKey,
    /// Display name.
    pub name: String,
    /// Chance of winning a deal in this stage, in percent (0–100).
    pub probability: u8,
    /// Open, won or lost.
    pub kind: StageKind,
    /// Entry conditions.
    #[serde(default)]
    pub guards: Vec<StageGuard>,
}

/// Which moves between stages are allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Transitions {
    /// Any open stage may move to any other stage.
    #[default]
    Any,
    /// Only the listed `(from, to)` moves are allowed between stages.
    Only(Vec<(StageKey, StageKey)>),
}

/// A pipeline as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Id.
    pub id: PipelineId,
    /// Version: 1 when created, +1 on every change.
    pub version: u64,
    /// Name.
    pub name: String,
    /// Stages in display order.
    pub stages: Vec<Stage>,
    /// Allowed moves.
    pub transitions: Transitions,
    /// Whether won and lost deals may be reopened.
    pub allow_reopen: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Pipeline {
    /// The stage with `key`, if any.
    pub fn stage(&self, key: &StageKey) -> Option<&Stage> {
        self.stages.iter().find(|s| &s.key == key)
    }

    /// The first open stage in display order (where new deals start).
    pub fn first_open_stage(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == StageKind::Open)
    }

    /// All stages of one kind, in order.
    pub fn stages_of_kind(&self, kind: StageKind) -> impl Iterator<Item = &Stage> {
        self.stages.iter().filter(move |s| s.kind == kind)
    }

    /// Whether a deal in stage `from` may move to stage `to`. Both must be
    /// stages of this pipeline.
    pub fn check_move(&self, from: &Stage, to: &Stage) -> Result<(), TransitionRefusal> {
        if from.key == to.key {
            return Err(TransitionRefusal::SameStage);
        }
        if from.kind.is_closed() {
            if !self.allow_reopen {
                return Err(TransitionRefusal::ClosedDealsCannotReopen);
            }
            if to.kind.is_closed() {
                return Err(TransitionRefusal::ReopenMustTargetOpenStage);
            }
            return Ok(());
        }
        match &self.transitions {
            Transitions::Any => Ok(()),
            Transitions::Only(edges) => {
                if edges.iter().any(|(a, b)| a == &from.key && b == &to.key) {
                    Ok(())
                } else {
                    Err(TransitionRefusal::NotInTransitionGraph)
                }
            }
        }
    }

    /// The stages a deal in `from` may move to, in display order.
    pub fn allowed_targets(&self, from: &Stage) -> Vec<&Stage> {
        self.stages
            .iter()
            .filter(|to| self.check_move(from, to).is_ok())
            .collect()
    }
}

/// Input for a stage: see [`StageDef::open`], [`StageDef::won`], [`StageDef::lost`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StageDef {
    /// Key, unique within the pipeline.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Win probability in percent.
    pub probability: u8,
    /// Open, won or lost.
    pub kind: StageKind,
    /// Entry conditions.
    #[serde(default)]
    pub guards: Vec<StageGuard>,
}

impl StageDef {
    /// An open stage with a win probability in percent.
    pub fn open(key: impl Into<String>, name: impl Into<String>, probability: u8) -> Self {
        StageDef {
            key: key.into(),
            name: name.into(),
            probability,
            kind: StageKind::Open,
            guards: Vec::new(),
        }
    }

    /// A won stage (probability 100).
    pub fn won(key: impl Into<String>, name: impl Into<String>) -> Self {
        StageDef {
            probability: 100,
            kind: StageKind::Won,
            ..StageDef::open(key, name, 100)
        }
    }

    /// A lost stage (probability 0).
    pub fn lost(key: impl Into<String>, name: impl Into<String>) -> Self {
        StageDef {
            probability: 0,
            kind: StageKind::Lost,
            ..StageDef::open(key, name, 0)
        }
    }

    /// Adds an entry condition.
    pub fn guard(mut self, guard: StageGuard) -> Self {
        self.guards.push(guard);
        self
    }
}

/// Input for creating or redefining a pipeline.
///
/// ```
/// use crm_core::{PipelineDef, StageDef, StageGuard};
/// let def = PipelineDef::new("Sales")
///     .stage(StageDef::open("lead", "Lead", 10))
///     .stage(StageDef::open("proposal", "Proposal", 50).guard(StageGuard::RequiresAmount))
///     .stage(StageDef::won("won", "Won"))
///     .stage(StageDef::lost("lost", "Lost").guard(StageGuard::RequiresLostReason));
/// assert_eq!(def.stages.len(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PipelineDef {
    /// Name.
    pub name: String,
    /// Stages in display order.
    pub stages: Vec<StageDef>,
    /// Allowed moves (default: any).
    #[serde(default)]
    pub transitions: Transitions,
    /// Whether closed deals may be reopened (default: no).
    #[serde(default)]
    pub allow_reopen: bool,
}

impl PipelineDef {
    /// An empty definition named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        PipelineDef {
            name: name.into(),
            stages: Vec::new(),
            transitions: Transitions::Any,
            allow_reopen: false,
        }
    }

    /// A typical B2B sales pipeline: lead (10 %), qualified (25 %), proposal
    /// (50 %, needs an amount and an expected close date), negotiation (75 %),
    /// won, and lost (needs a reason); reopening allowed.
    pub fn sales_template(name: impl Into<String>) -> Self {
        PipelineDef::new(name)
            .stage(StageDef::open("lead", "Lead", 10))
            .stage(StageDef::open("qualified", "Qualified", 25))
            .stage(
                StageDef::open("proposal", "Proposal", 50)
                    .guard(StageGuard::RequiresAmount)
                    .guard(StageGuard::RequiresExpectedCloseDate),
            )
            .stage(StageDef::open("negotiation", "Negotiation", 75))
            .stage(StageDef::won("won", "Won"))
            .stage(StageDef::lost("lost", "Lost").guard(StageGuard::RequiresLostReason))
            .allow_reopen(true)
    }

    /// Appends a stage.
    pub fn stage(mut self, stage: StageDef) -> Self {
        self.stages.push(stage);
        self
    }

    /// Restricts moves to the listed `(from, to)` pairs of stage keys.
    pub fn only_transitions<'a>(
        mut self,
        edges: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        // Keys are validated when the definition is saved; malformed ones are
        // kept as given so the error can name them.
        let edges = edges
            .into_iter()
            .map(|(a, b)| (StageKey(a.to_owned()), StageKey(b.to_owned())))
            .collect();
        self.transitions = Transitions::Only(edges);
        self
    }

    /// Allows or forbids reopening closed deals.
    pub fn allow_reopen(mut self, allow: bool) -> Self {
        self.allow_reopen = allow;
        self
    }

    /// Validates the definition into the parts of a pipeline.
    pub(crate) fn validate(self) -> Result<(String, Vec<Stage>, Transitions, bool)> {
        let invalid = |field: String, value: &dyn fmt::Display, reason: &str| {
            Error::invalid(EntityKind::Pipeline, field, value, reason)
        };
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(invalid(
                "name".into(),
                &self.name,
                "a pipeline needs a name",
            ));
        }
        crate::limits::check_text(
            EntityKind::Pipeline,
            "name",
            "a pipeline name",
            &name,
            crate::limits::MAX_NAME_CHARS,
            false,
        )?;
        if self.stages.is_empty() {
            return Err(invalid("stages".into(), &"[]", "a pipeline needs stages"));
        }
        crate::limits::check_count(
            EntityKind::Pipeline,
            "stages",
            self.stages.len(),
            crate::limits::MAX_STAGES,
        )?;
        let mut stages: Vec<Stage> = Vec::with_capacity(self.stages.len());
        for (i, def) in self.stages.into_iter().enumerate() {
            let key = StageKey::new(def.key.clone())
                .map_err(|e| invalid(format!("stages[{i}].key"), &def.key, &e.to_string()))?;
            if stages.iter().any(|s| s.key == key) {
                return Err(invalid(
                    format!("stages[{i}].key"),
                    &def.key,
                    "two stages have this key; keys must be unique",
                ));
            }
            let stage_name = def.name.trim().to_owned();
            if stage_name.is_empty() {
                return Err(invalid(
                    format!("stages[{i}].name"),
                    &def.name,
                    "a stage needs a name",
                ));
            }
            crate::limits::check_text(
                EntityKind::Pipeline,
                &format!("stages[{i}].name"),
                "a stage name",
                &stage_name,
                crate::limits::MAX_NAME_CHARS,
                false,
            )?;
            if def.probability > 100 {
                return Err(invalid(
                    format!("stages[{i}].probability"),
                    &def.probability,
                    "a probability is a percentage from 0 to 100",
                ));
            }
            match def.kind {
                StageKind::Won if def.probability != 100 => {
                    return Err(invalid(
                        format!("stages[{i}].probability"),
                        &def.probability,
                        "a won stage has probability 100",
                    ));
                }
                StageKind::Lost if def.probability != 0 => {
                    return Err(invalid(
                        format!("stages[{i}].probability"),
                        &def.probability,
                        "a lost stage has probability 0",
                    ));
                }
                _ => {}
            }
            let mut guards: Vec<StageGuard> = Vec::new();
            for (g, guard) in def.guards.iter().enumerate() {
                if *guard == StageGuard::RequiresLostReason && def.kind != StageKind::Lost {
                    return Err(invalid(
                        format!("stages[{i}].guards[{g}]"),
                        &"requires_lost_reason",
                        "only a lost stage can require a lost reason",
                    ));
                }
                if !guards.contains(guard) {
                    guards.push(*guard);
                }
            }
            stages.push(Stage {
                key,
                name: stage_name,
                probability: def.probability,
                kind: def.kind,
                guards,
            });
        }
        for kind in [StageKind::Open, StageKind::Won, StageKind::Lost] {
            if !stages.iter().any(|s| s.kind == kind) {
                return Err(invalid(
                    "stages".into(),
                    &format!("{} stages", stages.len()),
                    &format!("a pipeline needs at least one {kind} stage"),
                ));
            }
        }
        if let Transitions::Only(edges) = &self.transitions {
            for (i, (from, to)) in edges.iter().enumerate() {
                for (end, key) in [("from", from), ("to", to)] {
                    if StageKey::new(key.as_str()).is_err() || !stages.iter().any(|s| &s.key == key)
                    {
                        return Err(invalid(
                            format!("transitions[{i}].{end}"),
                            key,
                            "no stage has this key",
                        ));
                    }
                }
                if from == to {
                    return Err(invalid(
                        format!("transitions[{i}]"),
                        &format!("{from} -> {to}"),
                        "a stage cannot move to itself",
                    ));
                }
                if stages.iter().any(|s| &s.key == from && s.kind.is_closed()) {
                    return Err(invalid(
                        format!("transitions[{i}].from"),
                        from,
                        "moves out of won or lost stages are governed by allow_reopen, not by transitions",
                    ));
                }
            }
            for stage in stages.iter().filter(|s| s.kind == StageKind::Open) {
                let reach = reachable(&stage.key, edges);
                for kind in [StageKind::Won, StageKind::Lost] {
                    if !stages
                        .iter()
                        .any(|s| s.kind == kind && reach.contains(&s.key))
                    {
                        return Err(invalid(
                            "transitions".into(),
                            &stage.key,
                            &format!(
                                "from open stage '{}' no {kind} stage can be reached",
                                stage.key
                            ),
                        ));
                    }
                }
            }
        }
        Ok((name, stages, self.transitions, self.allow_reopen))
    }
}

fn reachable<'a>(start: &'a StageKey, edges: &'a [(StageKey, StageKey)]) -> BTreeSet<&'a StageKey> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(k) = queue.pop_front() {
        for (a, b) in edges {
            if a == k && seen.insert(b) {
                queue.push_back(b);
            }
        }
    }
    seen
}

/// Where the deals of stages dropped or changed by a pipeline edit go:
/// old stage key → stage key in the new definition.
pub type StageMapping = std::collections::BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(def: PipelineDef) -> Pipeline {
        let (name, stages, transitions, allow_reopen) = def.validate().unwrap();
        Pipeline {
            id: PipelineId::from_uuid(uuid::Uuid::nil()),
            version: 1,
            name,
            stages,
            transitions,
            allow_reopen,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    fn err_of(def: PipelineDef) -> String {
        def.validate().unwrap_err().to_string()
    }

    fn basic() -> PipelineDef {
        PipelineDef::new("P")
            .stage(StageDef::open("a", "A", 10))
            .stage(StageDef::open("b", "B", 50))
            .stage(StageDef::won("won", "Won"))
            .stage(StageDef::lost("lost", "Lost"))
    }

    #[test]
    fn validation_errors_name_the_field() {
        assert_eq!(
            err_of(PipelineDef::new(" ")),
            "invalid pipeline.name \" \": a pipeline needs a name"
        );
        assert!(
            err_of(basic().stage(StageDef::open("a", "Again", 5)))
                .starts_with("invalid pipeline.stages[4].key \"a\": two stages")
        );
        assert!(
            err_of(basic().stage(StageDef::open("Bad Key", "x", 5)))
                .starts_with("invalid pipeline.stages[4].key \"Bad Key\"")
        );
        assert!(
            err_of(basic().stage(StageDef::open("c", "C", 101))).contains("stages[4].probability")
        );
        let no_lost = PipelineDef::new("P")
            .stage(StageDef::open("a", "A", 1))
            .stage(StageDef::won("w", "W"));
        assert!(err_of(no_lost).contains("at least one lost stage"));
        let mut w = StageDef::won("w2", "W2");
        w.probability = 90;
        assert!(err_of(basic().stage(w)).contains("a won stage has probability 100"));
        let reason_on_open =
            basic().stage(StageDef::open("c", "C", 5).guard(StageGuard::RequiresLostReason));
        assert!(err_of(reason_on_open).contains("stages[4].guards[0]"));
    }

    #[test]
    fn explicit_transitions_are_checked_for_reachability() {
        let dead_end = basic().only_transitions([("a", "b"), ("b", "won"), ("a", "lost")]);
        assert_eq!(
            err_of(dead_end),
            "invalid pipeline.transitions \"b\": from open stage 'b' no lost stage can be reached"
        );
        let unknown = basic().only_transitions([("a", "zzz")]);
        assert!(err_of(unknown).contains("transitions[0].to \"zzz\": no stage has this key"));
        let from_closed = basic().only_transitions([("won", "a")]);
        assert!(err_of(from_closed).contains("governed by allow_reopen"));
        let ok = basic().only_transitions([("a", "b"), ("b", "won"), ("b", "lost"), ("a", "lost")]);
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn default_moves_and_reopening() {
        let p = pipeline(basic());
        let [a, b, won, lost] = [0, 1, 2, 3].map(|i| &p.stages[i]);
        assert_eq!(p.check_move(a, b), Ok(()));
        assert_eq!(p.check_move(b, a), Ok(()));
        assert_eq!(p.check_move(a, won), Ok(()));
        assert_eq!(p.check_move(a, a), Err(TransitionRefusal::SameStage));
        assert_eq!(
            p.check_move(won, a),
            Err(TransitionRefusal::ClosedDealsCannotReopen)
        );
        let p = pipeline(basic().allow_reopen(true));
        let [a, _, won, lost2] = [0, 1, 2, 3].map(|i| &p.stages[i]);
        assert_eq!(p.check_move(won, a), Ok(()));
        assert_eq!(
            p.check_move(won, lost2),
            Err(TransitionRefusal::ReopenMustTargetOpenStage)
        );
        let _ = lost;
    }

    #[test]
    fn explicit_graph_limits_moves() {
        let p = pipeline(basic().only_transitions([
            ("a", "b"),
            ("b", "won"),
            ("b", "lost"),
            ("a", "lost"),
        ]));
        let targets: Vec<&str> = p
            .allowed_targets(&p.stages[0])
            .iter()
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(targets, ["b", "lost"]);
        assert_eq!(
            p.check_move(&p.stages[0], &p.stages[2]),
            Err(TransitionRefusal::NotInTransitionGraph)
        );
    }

    #[test]
    fn sales_template_is_valid() {
        let p = pipeline(PipelineDef::sales_template("Sales"));
        assert_eq!(p.first_open_stage().unwrap().key, "lead");
        assert_eq!(p.stages_of_kind(StageKind::Open).count(), 4);
    }
}
