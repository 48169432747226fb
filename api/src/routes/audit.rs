//! The audit trail of privacy-relevant actions.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use fieldcrm_db::audit::AuditEvent;

use crate::auth::Caller;
use crate::paging::{Page, PageQuery};
use crate::problem::Problem;
use fieldcrm_app::accounts::privacy;
use fieldcrm_app::state::AppState;

/// One privacy-relevant action: who, what, on which record, when. Never the
/// record's content.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: Uuid,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    /// `account.exported`, `person.erased`, `user.created`, `user.role_changed`,
    /// `user.deleted`, `api_key.created`, `api_key.revoked`, `google.connected`
    /// or `google.disconnected`.
    #[schema(example = "user.role_changed")]
    pub action: String,
    /// The record acted on.
    pub subject_id: Option<Uuid>,
    /// E.g. `technician -> admin` for a role change, the scope of a new key.
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id.uuid(),
            actor: e.actor,
            action: e.action,
            subject_id: e.subject_id.map(|s| s.uuid()),
            detail: e.detail,
            at: e.at.get(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this action.
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    pub action: Option<String>,
    /// Most rows to return, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    pub cursor: Option<String>,
}

/// The audit trail, newest first: exports, erasures of people, users created,
/// deleted or given another role, API keys created and revoked, Google
/// connected and disconnected.
///
/// Permission: `ExportOrDeleteAccount`.
#[utoipa::path(
    tag = "account",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the trail", body = Page<AuditEventView>),
        (status = 403, description = "The caller is not an owner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/audit")]
pub async fn audit_trail(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, Problem> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let rows = privacy::audit_trail(
        &state,
        &caller,
        query.action.clone(),
        page.after(),
        page.fetch(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |e| e.id.uuid(),
        AuditEventView::from,
    )))
}
