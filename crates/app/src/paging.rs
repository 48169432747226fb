//! A page of a list: rows after a cursor id, at most `limit` of them.

use uuid::Uuid;

use fieldcrm_db::Id;

/// A parsed page request.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: i64,
}

impl PageRequest {
    /// The cursor as a typed id, for the query.
    pub fn after<T>(&self) -> Option<Id<T>> {
        self.after.map(Id::from_uuid)
    }

    /// Rows to fetch: one more than the limit tells whether a next page exists.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}
