//! The events feed: what changed in the account, oldest first.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use fieldcrm_db::events::Event;

use crate::auth::Caller;
use crate::paging::{Page, PageQuery};
use crate::problem::Problem;
use fieldcrm_app::events::EVENT_TYPES;
use fieldcrm_app::state::AppState;
use fieldcrm_app::webhooks;

/// One change: its type, when it occurred, who made it and the ids (and
/// changed field names) it concerns. Never a name, contact detail, message
/// body, position or secret.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// UUIDv7; also the `webhook-id` of its deliveries.
    pub id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = crate::vocabulary::EventTypeName, inline)]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `api_key`, `system` (upkeep, sync, automatic clock-out) or
    /// `contact` (a reply or an unsubscribe link of the person messaged).
    #[schema(example = "user")]
    pub actor: String,
    /// The object's `id`, and per type: `changed` (field names) for updates,
    /// `from` and `to` for a status change, `customer_id`, `channel`,
    /// `status` and `source` for consent, `user_id` for shifts.
    // Typed in the document by `openapi::type_event_data`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            id: e.id.uuid(),
            event_type: e.event_type,
            occurred_at: e.occurred_at.get(),
            actor: e.actor,
            data: serde_json::from_str(&e.data).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only these types: `types=customer.deleted&types=prospect.deleted`
    /// (or, the same, `types=customer.deleted,prospect.deleted`).
    #[serde(skip)]
    #[param(value_type = Option<Vec<crate::vocabulary::EventTypeName>>)]
    pub types: Option<String>,
    /// Most rows to return, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    pub cursor: Option<String>,
}

/// Every `types` of the query string, repeated or comma-separated.
fn parse_types(query: &str) -> Result<Vec<String>, Problem> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| Problem::bad_request("the query string is malformed"))?;
    pairs
        .iter()
        .filter(|(name, _)| name == "types")
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            if EVENT_TYPES.contains(&t) {
                Ok(t.to_owned())
            } else {
                Err(Problem::invalid_field(
                    "types",
                    format!("`{t}` is not an event type"),
                ))
            }
        })
        .collect()
}

/// The account's events, oldest first: creations, changes and deletions of
/// customers, prospects, appointments and users, consent, shifts clocked in
/// and out, message statuses, and the account's deletion. Kept for
/// `FIELDCRM_EVENTS_RETENTION_DAYS` (30 by default). A mobile app that keeps
/// the last page's `next_cursor`, or the id of the last event it saw as
/// position, learns of deletions since its last sync here.
///
/// On PostgreSQL, two changes committing at the same moment may list in
/// the order they began rather than committed: a consumer that polls
/// should start again from an event a few seconds older than the last it saw
/// and skip the ids it knows.
///
/// Permission: `ViewEvents`.
#[utoipa::path(
    tag = "events",
    security(("bearer" = [])),
    params(EventQuery),
    responses(
        (status = 200, description = "A page of events, oldest first", body = Page<EventView>),
        (status = 403, description = "The caller's role may not read the events feed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    caller: Caller,
    request: actix_web::HttpRequest,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, Problem> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let types = parse_types(request.query_string())?;
    let rows = webhooks::feed(&state, &caller, types, page.after(), page.fetch()).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |e| e.id.uuid(),
        EventView::from,
    )))
}
