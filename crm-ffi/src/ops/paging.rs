//! Pages over results the engine computes whole (RFM scores, ABC classes,
//! purchase summaries, predicted scores, the outbox): without `"page"` the
//! response is the whole array, as before; with `"page": {"limit"?,
//! "after"?}` it is `{"items": [...], "next": key-or-null}`, the items in
//! key order (customer id, or notification id for the outbox), `next` the
//! key to pass as `after` for the following page. The figures do not
//! depend on the page: ABC classes, for one, are computed over everyone
//! before the page is cut.

use crm_core::query::PageRequest;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::status::{CrmStatus, Failure};

/// `"page": {"limit"?, "after"?}` over a result computed whole.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "K: Deserialize<'de>")]
pub(super) struct Slice<K> {
    /// At most this many items (1 to 10 000, default 50).
    #[serde(default = "default_limit")]
    limit: u32,
    /// Continue after this key (a previous page's `next`).
    #[serde(default)]
    after: Option<K>,
}

fn default_limit() -> u32 {
    PageRequest::DEFAULT_LIMIT
}

/// The whole result, or one page of it.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum MaybePaged<T, K> {
    /// Every item (no `"page"` in the request).
    All(Vec<T>),
    /// One page (the request had `"page"`).
    Page {
        /// The items of this page, in key order.
        items: Vec<T>,
        /// The key to pass as `page.after` for the next page; `null` on
        /// the last one.
        next: Option<K>,
    },
}

/// `items`, whole or cut to the page `page` asks for, ordered by `key`.
pub(super) fn slice<T, K: Ord + Copy>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> K,
    page: Option<Slice<K>>,
) -> Result<MaybePaged<T, K>, Failure> {
    let Some(page) = page else {
        return Ok(MaybePaged::All(items));
    };
    if page.limit == 0 || page.limit > PageRequest::MAX_LIMIT {
        return Err(Failure::new(
            CrmStatus::InvalidInput,
            format!(
                "request.page.limit {}: must be from 1 to {}",
                page.limit,
                PageRequest::MAX_LIMIT
            ),
        )
        .at_path("page.limit"));
    }
    items.sort_by_key(|t| key(t));
    let start = match page.after {
        Some(after) => items.partition_point(|t| key(t) <= after),
        None => 0,
    };
    let limit = page.limit as usize;
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(&key)
    } else {
        None
    };
    Ok(MaybePaged::Page { items: rest, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(items: Vec<u32>, limit: u32) -> Vec<Vec<u32>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            match slice(items.clone(), |x| *x, Some(Slice { limit, after })).expect("page") {
                MaybePaged::Page { items, next } => {
                    out.push(items);
                    match next {
                        Some(n) => after = Some(n),
                        None => return out,
                    }
                }
                MaybePaged::All(_) => unreachable!("asked for a page"),
            }
        }
    }

    #[test]
    fn pages_cover_every_item_once_in_key_order() {
        assert_eq!(
            pages(vec![5, 1, 4, 2, 3], 2),
            vec![vec![1, 2], vec![3, 4], vec![5]]
        );
        assert_eq!(pages(vec![2, 1], 2), vec![vec![1, 2]]);
        assert_eq!(pages(vec![], 3), vec![Vec::<u32>::new()]);
    }

    #[test]
    fn without_a_page_everything_comes_in_the_engine_order() {
        match slice(vec![3, 1, 2], |x| *x, None).expect("all") {
            MaybePaged::All(v) => assert_eq!(v, vec![3, 1, 2]),
            MaybePaged::Page { .. } => unreachable!("no page asked"),
        }
    }

    #[test]
    fn a_limit_out_of_range_is_refused_naming_it() {
        let e = slice(
            vec![1],
            |x| *x,
            Some(Slice {
                limit: 0,
                after: None,
            }),
        )
        .err()
        .expect("refused");
        assert_eq!(e.status, CrmStatus::InvalidInput);
        assert!(e.message.contains("request.page.limit 0"), "{}", e.message);
    }
}
