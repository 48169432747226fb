//! The audit trail: who did what to which record, never the record's content.

use uuid::Uuid;

use fieldcrm_db::audit::{self, AuditEvent};
use fieldcrm_db::{DbConnection, Id, Ts};

use crate::caller::Caller;
use crate::error::AppError;

/// Every action the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audited {
    AccountExported,
    PersonErased,
    UserCreated,
    UserRoleChanged,
    UserDeleted,
    ApiKeyCreated,
    ApiKeyRevoked,
    DeviceIssued,
    DeviceRevoked,
    GoogleConnected,
    GoogleDisconnected,
}

impl Audited {
    /// The action as the trail stores and shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Audited::AccountExported => "account.exported",
            Audited::PersonErased => "person.erased",
            Audited::UserCreated => "user.created",
            Audited::UserRoleChanged => "user.role_changed",
            Audited::UserDeleted => "user.deleted",
            Audited::ApiKeyCreated => "api_key.created",
            Audited::ApiKeyRevoked => "api_key.revoked",
            Audited::DeviceIssued => "device.issued",
            Audited::DeviceRevoked => "device.revoked",
            Audited::GoogleConnected => "google.connected",
            Audited::GoogleDisconnected => "google.disconnected",
        }
    }
}

/// Appends to the audit trail inside the caller's transaction.
pub fn record(
    conn: &mut DbConnection,
    caller: &Caller,
    action: Audited,
    subject: Option<Uuid>,
    detail: Option<String>,
) -> Result<(), AppError> {
    audit::record(
        conn,
        &AuditEvent {
            id: Id::new(),
            account_id: caller.account_id,
            actor: caller.actor(),
            action: action.as_str().to_owned(),
            subject_id: subject.map(Id::from_uuid),
            detail,
            at: Ts::now(),
        },
    )?;
    Ok(())
}
