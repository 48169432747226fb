//! Cursor paging for lists: `limit` (default 50, at most 200) and an opaque
//! `cursor`; the body is `{"data": [...], "next_cursor": "..." | null}`.
//!
//! Rows are ordered by id, and ids are UUIDv7 (creation order), so a page never
//! shifts when rows are added while a client pages through.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use fieldcrm_app::paging::PageRequest;

use crate::problem::Problem;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Most rows to return, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, Problem> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Problem::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match &self.cursor {
            None => None,
            Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
                Problem::invalid_field("cursor", "is not a cursor this API returned")
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `fetch()` rows, mapping each to its view.
    pub fn from_rows<R>(
        request: PageRequest,
        mut rows: Vec<R>,
        id_of: impl Fn(&R) -> Uuid,
        view: impl Fn(R) -> T,
    ) -> Self {
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|row| encode_cursor(id_of(row)))
        } else {
            None
        };
        Self {
            data: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded_and_cursors_round_trip() {
        let q = |limit: Option<i64>, cursor: Option<&str>| PageQuery {
            limit,
            cursor: cursor.map(str::to_owned),
        };
        assert_eq!(q(None, None).parse().unwrap().limit, 50);
        assert!(q(Some(0), None).parse().is_err());
        assert!(q(Some(201), None).parse().is_err());
        assert!(q(None, Some("not a cursor!")).parse().is_err());
        let id = Uuid::now_v7();
        let parsed = q(Some(2), Some(&encode_cursor(id))).parse().unwrap();
        assert_eq!(parsed.after, Some(id));

        let page = Page::from_rows(parsed, vec![1u8, 2, 3], |_| id, |n| n * 10);
        assert_eq!(page.data, vec![10, 20]);
        assert!(page.next_cursor.is_some());
        let last = Page::from_rows(parsed, vec![1u8, 2], |_| id, |n| n);
        assert!(last.next_cursor.is_none());
    }
}
