//! Finding the customers and pipelines that imported rows refer to.

use std::collections::HashMap;

use crate::contact::Email;
use crate::customer::Customer;
use crate::error::Result;
use crate::facade::Batch;
use crate::id::{CustomerId, PipelineId};
use crate::pipeline::Pipeline;
use crate::query::{CustomerFilter, CustomerQuery, PipelineQuery, fetch_all};

/// Every customer by e-mail address and by name, loaded once per import
/// and kept up to date with the customers the import creates.
#[derive(Default)]
pub(crate) struct CustomerIndex {
    by_email: HashMap<String, Vec<CustomerId>>,
    by_name: HashMap<String, Vec<CustomerId>>,
}

fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl CustomerIndex {
    pub(crate) fn load(batch: &Batch<'_>) -> Result<Self> {
        let mut index = CustomerIndex::default();
        for c in &fetch_all(CustomerFilter::default(), |q: &CustomerQuery| {
            batch.customers(q)
        })? {
            index.add(c);
        }
        Ok(index)
    }

    pub(crate) fn add(&mut self, c: &Customer) {
        for e in &c.emails {
            self.by_email
                .entry(e.as_str().to_owned())
                .or_default()
                .push(c.id);
        }
        self.by_name
            .entry(name_key(&c.name))
            .or_default()
            .push(c.id);
    }

    /// Takes `old` out of the index and puts `new` (the same customer,
    /// updated) in.
    pub(crate) fn replace(&mut self, old: &Customer, new: &Customer) {
        for e in &old.emails {
            if let Some(ids) = self.by_email.get_mut(e.as_str()) {
                ids.retain(|id| *id != old.id);
            }
        }
        if let Some(ids) = self.by_name.get_mut(&name_key(&old.name)) {
            ids.retain(|id| *id != old.id);
        }
        self.add(new);
    }

    /// The one customer that has any of `emails` (as typed; normalised
    /// here), `None` when no customer has any; an error naming the
    /// customers when several do.
    pub(crate) fn by_emails(
        &self,
        emails: &[String],
    ) -> std::result::Result<Option<CustomerId>, String> {
        let mut found: Vec<CustomerId> = Vec::new();
        for text in emails {
            let Ok(email) = Email::parse(text) else {
                continue;
            };
            for id in self.by_email.get(email.as_str()).into_iter().flatten() {
                if !found.contains(id) {
                    found.push(*id);
                }
            }
        }
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(format!(
                "the e-mail addresses belong to {} customers ({}); match by id instead",
                many.len(),
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The customer a cell names: by id, by e-mail address (normalised),
    /// or by exact name (ignoring case and repeated spaces).
    pub(crate) fn resolve(
        &self,
        text: &str,
        ids: &super::IdMap,
    ) -> std::result::Result<CustomerId, String> {
        if let Ok(id) = text.parse::<uuid::Uuid>() {
            return Ok(CustomerId::from_uuid(ids.get(&id).copied().unwrap_or(id)));
        }
        let (found, what) = if text.contains('@') {
            let email = Email::parse(text).map_err(|e| e.to_string())?;
            (self.by_email.get(email.as_str()), "e-mail address")
        } else {
            (self.by_name.get(&name_key(text)), "name")
        };
        match found.map(Vec::as_slice) {
            Some([one]) => Ok(*one),
            None | Some([]) => Err(format!("no customer has this {what}")),
            Some(many) => Err(format!(
                "{} customers have this {what}; name the customer by id instead",
                many.len()
            )),
        }
    }
}

/// Every pipeline, by id and by name.
pub(crate) struct PipelineIndex {
    pipelines: Vec<Pipeline>,
}

impl PipelineIndex {
    pub(crate) fn load(batch: &Batch<'_>) -> Result<Self> {
        Ok(PipelineIndex {
            pipelines: fetch_all(Default::default(), |q: &PipelineQuery| batch.pipelines(q))?,
        })
    }

    /// The pipeline a cell names by id or name; with no cell, the only
    /// pipeline there is.
    pub(crate) fn resolve(
        &self,
        text: Option<&str>,
        ids: &super::IdMap,
    ) -> std::result::Result<&Pipeline, String> {
        let Some(text) = text else {
            return match self.pipelines.as_slice() {
                [one] => Ok(one),
                [] => Err("there is no pipeline yet; create one before importing deals".into()),
                many => Err(format!(
                    "there are {} pipelines ({}); say which one in this column",
                    many.len(),
                    self.names()
                )),
            };
        };
        if let Ok(id) = text.parse::<uuid::Uuid>() {
            let id = PipelineId::from_uuid(ids.get(&id).copied().unwrap_or(id));
            return self
                .pipelines
                .iter()
                .find(|p| p.id == id)
                .ok_or_else(|| "no pipeline has this id".to_owned());
        }
        let key = name_key(text);
        let mut found = self.pipelines.iter().filter(|p| name_key(&p.name) == key);
        match (found.next(), found.next()) {
            (Some(p), None) => Ok(p),
            (None, _) => Err(format!(
                "no pipeline has this name (the pipelines are {})",
                self.names()
            )),
            (Some(_), Some(_)) => {
                Err("several pipelines have this name; name the pipeline by id instead".into())
            }
        }
    }

    fn names(&self) -> String {
        self.pipelines
            .iter()
            .map(|p| format!("'{}'", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
