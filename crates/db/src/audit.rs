//! The audit trail of privacy-relevant actions.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::jobs::SubjectId;
use crate::schema::audit_events;
use crate::{DbResult, Id, Ts};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = audit_events, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct AuditEvent {
    pub id: Id<AuditEvent>,
    pub account_id: Id<Account>,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    pub action: String,
    pub subject_id: Option<SubjectId>,
    pub detail: Option<String>,
    pub at: Ts,
}

pub fn record(conn: &mut DbConnection, event: &AuditEvent) -> DbResult<()> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

/// Newest first, below `before`.
pub fn list(
    conn: &mut DbConnection,
    account: Id<Account>,
    action: Option<&str>,
    before: Option<Id<AuditEvent>>,
    limit: i64,
) -> DbResult<Vec<AuditEvent>> {
    let mut query = audit_events::table
        .filter(audit_events::account_id.eq(account))
        .into_boxed();
    if let Some(action) = action {
        query = query.filter(audit_events::action.eq(action.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(audit_events::id.lt(before));
    }
    Ok(query
        .order(audit_events::id.desc())
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}

/// When the account last did `action`, if ever.
pub fn last_at(
    conn: &mut DbConnection,
    account: Id<Account>,
    action: &str,
) -> DbResult<Option<Ts>> {
    Ok(audit_events::table
        .filter(audit_events::account_id.eq(account))
        .filter(audit_events::action.eq(action))
        .order(audit_events::at.desc())
        .select(audit_events::at)
        .first(conn)
        .optional()?)
}
