//! `/v1/customers` and `/v1/prospects`: one kind of record in two stages, so the
//! operations are written once (`stage_routes!`) and served for each stage;
//! only converting a prospect is a prospect's alone.

use actix_web::http::header::ETAG;
use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use fieldcrm_db::consent::ConsentEvent;
use fieldcrm_db::people::After;
use fieldcrm_db::{Id, Ts};
use fieldcrm_domain::{
    parse_notes, single_line, Address, AddressInput, Channel, ConsentSource, ConsentStatus,
    CountryCode, Email, PersonName, Phone, Stage, Tag,
};

use crate::auth::Caller;
use crate::extract::Json;
use crate::paging::{Page, DEFAULT_LIMIT, MAX_LIMIT};
use crate::preconditions::{etag, IdempotencyKey, IfMatch};
use crate::problem::{FieldError, Fields, Problem};
use crate::routes::{created_response, to_json};
use crate::views::{ConsentSummary, PersonView};
use fieldcrm_app::idempotency;
use fieldcrm_app::people::{self, NewPerson, PersonPatch, Record};
use fieldcrm_app::state::AppState;

// ---- request bodies ----------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    #[schema(example = "1200 Barton Springs Rd")]
    pub line1: String,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// With `lon`, -90 to 90.
    pub lat: Option<f64>,
    /// With `lat`, -180 to 180.
    pub lon: Option<f64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePersonRequest {
    #[schema(example = "Jordan Blake")]
    pub name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    /// Any common format; stored in E.164. Without a country code it is read as a
    /// number of the account's `default_country`.
    #[schema(example = "(512) 555-0123")]
    pub phone: Option<String>,
    pub address: Option<AddressBody>,
    /// Up to 5,000 characters.
    pub notes: Option<String>,
    /// Up to 20 labels, 1 to 50 characters each; stored lower-case.
    pub tags: Option<Vec<String>>,
}

/// Absent: unchanged. `null`: cleared (not allowed for `name`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePersonRequest {
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    /// A new address resets email consent.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// A new number resets SMS consent.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<AddressBody>)]
    pub address: Option<Option<AddressBody>>,
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    /// Replaces all tags; `null` or `[]` removes them.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<Option<Vec<String>>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    #[schema(value_type = crate::vocabulary::ChannelName, inline, example = "sms")]
    pub channel: String,
    #[schema(value_type = crate::vocabulary::ConsentStatusName, inline, example = "opted_in")]
    pub status: String,
    /// (`inbound_stop` and `unsubscribe_link` are recorded by the service itself.)
    #[schema(value_type = crate::vocabulary::ConsentSourceName, inline, example = "form")]
    pub source: String,
}

// ---- responses ---------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct ConsentEventView {
    pub id: Uuid,
    #[schema(value_type = crate::vocabulary::ChannelName)]
    pub channel: String,
    /// `reset`: the phone number or email address changed.
    #[schema(value_type = crate::vocabulary::ConsentChangeName)]
    pub status: String,
    #[schema(value_type = crate::vocabulary::ConsentSourceRecordedName)]
    pub source: String,
    pub at: DateTime<Utc>,
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub by: String,
}

impl From<ConsentEvent> for ConsentEventView {
    fn from(e: ConsentEvent) -> Self {
        Self {
            id: e.id.uuid(),
            channel: e.channel.as_str().to_owned(),
            status: e.status.as_str().to_owned(),
            source: e.source.as_str().to_owned(),
            at: e.recorded_at.get(),
            by: e.recorded_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub current: ConsentSummary,
    /// Oldest first; never edited.
    pub history: Vec<ConsentEventView>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentRecorded {
    pub event: ConsentEventView,
    pub current: ConsentSummary,
}

fn person_response(status: StatusCode, view: &PersonView) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((ETAG, etag(view.version)))
        .json(view)
}

// ---- input parsing -----------------------------------------------------------

fn optional_line(
    fields: &mut Fields,
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Option<Option<String>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Some(None),
        Some(raw) => fields.check(field, single_line(raw, max)).map(Some),
    }
}

fn optional<T>(
    fields: &mut Fields,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, fieldcrm_domain::Invalid>,
) -> Option<Option<T>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Some(None),
        Some(raw) => fields.check(field, parse(raw)).map(Some),
    }
}

/// `Some(None)` when no address was given, `None` when it was invalid (the
/// errors are in `fields`).
pub(crate) fn parse_address(
    fields: &mut Fields,
    body: Option<&AddressBody>,
) -> Option<Option<Address>> {
    let Some(body) = body else { return Some(None) };
    let input = AddressInput {
        line1: &body.line1,
        line2: body.line2.as_deref(),
        city: body.city.as_deref(),
        region: body.region.as_deref(),
        postal_code: body.postal_code.as_deref(),
        country: body.country.as_deref(),
        lat: body.lat,
        lon: body.lon,
    };
    match Address::parse(&input) {
        Ok(address) => Some(Some(address)),
        Err(errors) => {
            for (field, invalid) in errors {
                fields.push(FieldError::new(format!("address.{field}"), invalid.0));
            }
            None
        }
    }
}

fn tags(fields: &mut Fields, raw: Option<&[String]>) -> Option<Vec<Tag>> {
    fields.check("tags", Tag::parse_set(raw.unwrap_or_default()))
}

pub(crate) fn parse_new(
    body: &CreatePersonRequest,
    country: CountryCode,
) -> Result<NewPerson, Problem> {
    let mut fields = Fields::default();
    let name = fields.check("name", PersonName::parse(&body.name));
    let company = optional_line(&mut fields, "company", body.company.as_deref(), 200);
    let email = optional(&mut fields, "email", body.email.as_deref(), Email::parse);
    let phone = optional(&mut fields, "phone", body.phone.as_deref(), |raw| {
        Phone::parse(raw, country)
    });
    let address = parse_address(&mut fields, body.address.as_ref());
    let notes = fields.check(
        "notes",
        parse_notes(body.notes.as_deref().unwrap_or_default()),
    );
    let tags = tags(&mut fields, body.tags.as_deref());
    fields.finish()?;
    match (name, company, email, phone, address, notes, tags) {
        (
            Some(name),
            Some(company),
            Some(email),
            Some(phone),
            Some(address),
            Some(notes),
            Some(tags),
        ) => Ok(NewPerson {
            name,
            company,
            email,
            phone,
            address,
            notes,
            tags,
        }),
        _ => Err(Problem::internal()),
    }
}

pub(crate) fn parse_patch(
    body: &UpdatePersonRequest,
    country: CountryCode,
) -> Result<PersonPatch, Problem> {
    let mut fields = Fields::default();
    let mut patch = PersonPatch::default();
    match &body.name {
        None => {}
        Some(None) => fields.push(FieldError::new("name", "cannot be cleared")),
        Some(Some(raw)) => patch.name = fields.check("name", PersonName::parse(raw)),
    }
    if let Some(raw) = &body.company {
        patch.company = optional_line(&mut fields, "company", raw.as_deref(), 200);
    }
    if let Some(raw) = &body.email {
        patch.email = optional(&mut fields, "email", raw.as_deref(), Email::parse);
    }
    if let Some(raw) = &body.phone {
        patch.phone = optional(&mut fields, "phone", raw.as_deref(), |raw| {
            Phone::parse(raw, country)
        });
    }
    if let Some(raw) = &body.address {
        patch.address = parse_address(&mut fields, raw.as_ref());
    }
    if let Some(raw) = &body.notes {
        patch.notes = fields.check("notes", parse_notes(raw.as_deref().unwrap_or_default()));
    }
    if let Some(raw) = &body.tags {
        patch.tags = tags(&mut fields, raw.as_deref());
    }
    fields.finish()?;
    Ok(patch)
}

// ---- lists -------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Case-insensitive text to find in name, company, email or phone.
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    pub q: Option<String>,
    /// Only people with this tag: 1 to 50 characters, no comma, no space at either end (empty: any).
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    #[param(
        pattern = r"^([^,\s\x00-\x1f\x7f-\x9f]([^,\x00-\x1f\x7f-\x9f]{0,48}[^,\s\x00-\x1f\x7f-\x9f])?)?$"
    )]
    pub tag: Option<String>,
    /// Only people changed at or after this time (RFC 3339): for mobile sync.
    #[param(format = DateTime)]
    pub updated_since: Option<String>,
    /// Default `created`.
    #[param(value_type = Option<crate::vocabulary::PeopleSort>, inline)]
    pub sort: Option<String>,
    /// Most rows to return, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (with the same `sort`).
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    pub cursor: Option<String>,
}

const CURSOR_SEPARATOR: char = '\u{1f}';

fn encode_cursor(sort: &str, key: &str, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{sort}{CURSOR_SEPARATOR}{key}{CURSOR_SEPARATOR}{id}"
    ))
}

pub(crate) fn parse_list(query: &PeopleQuery) -> Result<people::ListRequest, Problem> {
    let mut fields = Fields::default();
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        fields.push(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let sort = query.sort.as_deref().unwrap_or("created");
    if !["created", "name", "updated"].contains(&sort) {
        fields.push(FieldError::new(
            "sort",
            "must be `created`, `name` or `updated`",
        ));
    }
    let tag = query
        .tag
        .as_deref()
        .and_then(|raw| fields.check("tag", Tag::parse_filter(raw)));
    let updated_since = match query.updated_since.as_deref() {
        None => None,
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(at) => Some(Ts::from(at.to_utc())),
            Err(_) => {
                fields.push(FieldError::new(
                    "updated_since",
                    "must be an RFC 3339 time such as 2026-05-01T00:00:00Z",
                ));
                None
            }
        },
    };
    if query.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        fields.push(FieldError::new("q", "must be at most 200 characters"));
    }
    let after = match &query.cursor {
        None => Some(match sort {
            "name" => After::Name(None),
            "updated" => After::Updated(None),
            _ => After::Created(None),
        }),
        Some(cursor) => decode_cursor(cursor, sort),
    };
    if after.is_none() {
        fields.push(FieldError::new(
            "cursor",
            "is not a cursor this API returned for this sort",
        ));
    }
    fields.finish()?;
    Ok(people::ListRequest {
        search: query.q.clone(),
        tag,
        updated_since,
        after: after.ok_or_else(Problem::internal)?,
        limit: limit + 1,
    })
}

fn decode_cursor(cursor: &str, sort: &str) -> Option<After> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut parts = text.split(CURSOR_SEPARATOR);
    let (cursor_sort, key, id) = (parts.next()?, parts.next()?, parts.next()?);
    if cursor_sort != sort || parts.next().is_some() {
        return None;
    }
    let id = Id::from_uuid(Uuid::parse_str(id).ok()?);
    Some(match sort {
        "name" => After::Name(Some((key.to_owned(), id))),
        "updated" => After::Updated(Some((
            Ts::from(DateTime::parse_from_rfc3339(key).ok()?.to_utc()),
            id,
        ))),
        _ => After::Created(Some(id)),
    })
}

pub(crate) fn page(request_limit: i64, sort: &str, mut rows: Vec<Record>) -> Page<PersonView> {
    let limit = usize::try_from(request_limit - 1).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|r| {
            let key = match sort {
                "name" => r.person.sort_name.clone(),
                "updated" => r
                    .person
                    .updated_at
                    .get()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                _ => String::new(),
            };
            encode_cursor(sort, &key, r.person.id.uuid())
        })
    } else {
        None
    };
    Page {
        data: rows.into_iter().map(PersonView::from).collect(),
        next_cursor,
    }
}

/// A consent decision as a client may state it.
pub(crate) fn parse_consent(
    body: &ConsentRequest,
) -> Result<(Channel, ConsentStatus, ConsentSource), Problem> {
    let mut fields = Fields::default();
    let channel = fields.check("channel", body.channel.parse::<Channel>());
    let status = fields.check("status", body.status.parse::<ConsentStatus>());
    let source = fields.check("source", ConsentSource::parse_from_client(&body.source));
    fields.finish()?;
    match (channel, status, source) {
        (Some(channel), Some(status), Some(source)) => Ok((channel, status, source)),
        _ => Err(Problem::internal()),
    }
}

// ---- shared handlers -----------------------------------------------------------

async fn list(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    query: &PeopleQuery,
) -> Result<HttpResponse, Problem> {
    let request = parse_list(query)?;
    let limit = request.limit;
    let rows = people::list(state, caller, stage, request).await?;
    Ok(HttpResponse::Ok().json(page(
        limit,
        query.sort.as_deref().unwrap_or("created"),
        rows,
    )))
}

async fn create(
    state: &AppState,
    caller: Caller,
    stage: Stage,
    body: Json<CreatePersonRequest>,
    key: IdempotencyKey,
) -> Result<HttpResponse, Problem> {
    people::authorize_changes(&caller)?;
    let input = parse_new(&body.0, caller.default_country)?;
    let account = caller.account_id;
    let result = idempotency::run(
        state,
        account,
        key.with_body(&body.1),
        move |conn| {
            let record = people::create_in(conn, &caller, stage, input)?;
            Ok((
                StatusCode::CREATED.as_u16(),
                to_json(&PersonView::from(record))?,
            ))
        },
        // A replay answers the record if it is still of this stage: a
        // prospect converted since is no longer at `/v1/prospects` (404).
        move |conn, id| {
            people::record_of(conn, account, Id::from_uuid(id))?
                .filter(|record| record.person.stage == stage)
                .map(|record| to_json(&PersonView::from(record)))
                .transpose()
        },
    )
    .await?;
    let collection = match stage {
        Stage::Customer => "/v1/customers",
        Stage::Prospect => "/v1/prospects",
    };
    Ok(created_response(&result, collection))
}

async fn get_one(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Uuid,
) -> Result<HttpResponse, Problem> {
    let record = people::get(state, caller, stage, Id::from_uuid(id)).await?;
    Ok(person_response(StatusCode::OK, &PersonView::from(record)))
}

async fn update(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Uuid,
    if_match: IfMatch,
    body: &UpdatePersonRequest,
) -> Result<HttpResponse, Problem> {
    people::authorize_changes(caller)?;
    let patch = parse_patch(body, caller.default_country)?;
    let record = people::update(state, caller, stage, Id::from_uuid(id), *if_match, patch).await?;
    Ok(person_response(StatusCode::OK, &PersonView::from(record)))
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Uuid,
    if_match: IfMatch,
) -> Result<HttpResponse, Problem> {
    people::delete(state, caller, stage, Id::from_uuid(id), *if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn consent(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Uuid,
) -> Result<HttpResponse, Problem> {
    let (person, history) =
        people::consent_history(state, caller, stage, Id::from_uuid(id)).await?;
    Ok(HttpResponse::Ok().json(ConsentView {
        current: ConsentSummary::from(&person),
        history: history.into_iter().map(ConsentEventView::from).collect(),
    }))
}

async fn record_consent(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Uuid,
    body: &ConsentRequest,
) -> Result<HttpResponse, Problem> {
    let (channel, status, source) = parse_consent(body)?;
    let (person, event) = people::record_consent(
        state,
        caller,
        stage,
        Id::from_uuid(id),
        channel,
        status,
        source,
    )
    .await?;
    Ok(HttpResponse::Created().json(ConsentRecorded {
        event: event.into(),
        current: ConsentSummary::from(&person),
    }))
}

// ---- endpoints ------------------------------------------------------------------

/// The operations both stages share, written once. `{person}` and `{people}`
/// in their documentation become the stage's words (`openapi::name_the_stage`);
/// their paths follow the stage's collection, whose scope `routes::configure`
/// gives `$register`.
macro_rules! stage_routes {
    (
        stage: $stage:expr,
        tag: $tag:tt,
        register: $register:ident,
        list: $list:ident,
        create: $create:ident,
        get: $get:ident,
        update: $update:ident,
        delete: $delete:ident,
        consent: $consent:ident,
        record_consent: $record_consent:ident $(,)?
    ) => {
        /// List {people}.
        ///
        /// Permission: `ViewCustomers`.
        #[utoipa::path(
            tag = $tag,
            security(("bearer" = [])),
            params(PeopleQuery),
            responses(
                (status = 200, description = "A page of {people}", body = Page<PersonView>),
                (status = 403, description = "The caller may not read {people}", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[get("")]
        pub async fn $list(
            state: web::Data<AppState>,
            caller: Caller,
            query: web::Query<PeopleQuery>,
        ) -> Result<HttpResponse, Problem> {
            list(&state, &caller, $stage, &query).await
        }

        /// Create a {person}. Email, phone and address are optional: collect only what the
        /// work needs. New people have consented to nothing. Send an `Idempotency-Key`
        /// to make retries safe: the same key and body return the first response again
        /// (with `Idempotency-Replayed: true`) for 24 hours; the same key with another
        /// body is 422.
        ///
        /// Permission: `ManageCustomers`.
        #[utoipa::path(
            tag = $tag,
            security(("bearer" = [])),
            params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]+$", description = "A unique key per intended creation, e.g. a UUID")),
            request_body(content = CreatePersonRequest, example = json!({
                "name": "Ada Example",
                "company": "Example Bakery",
                "email": "ada@example.com",
                "phone": "+1 512 555 0100",
                "address": {"line1": "1200 Congress Ave", "city": "Austin", "region": "TX", "postal_code": "78701", "country": "US"},
                "tags": ["vip"]
            })),
            responses(
                (status = 201, description = "The new {person}; `ETag` holds its version", body = PersonView),
                (status = 403, description = "The caller may not create {people}", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "A replay (same `Idempotency-Key`) of a request whose record has since been deleted (or, for a prospect, converted)", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "A request with this Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[post("")]
        pub async fn $create(
            state: web::Data<AppState>,
            caller: Caller,
            key: IdempotencyKey,
            body: Json<CreatePersonRequest>,
        ) -> Result<HttpResponse, Problem> {
            create(&state, caller, $stage, body, key).await
        }

        /// One {person}; `ETag` holds its version.
        ///
        /// Permission: `ViewCustomers`.
        #[utoipa::path(
            tag = $tag,
            security(("bearer" = [])),
            params(("id" = Uuid, Path, description = "The {person}'s id")),
            responses(
                (status = 200, description = "The {person}", body = PersonView),
                (status = 403, description = "The caller may not read {people}", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[get("/{id}")]
        pub async fn $get(
            state: web::Data<AppState>,
            caller: Caller,
            id: web::Path<Uuid>,
        ) -> Result<HttpResponse, Problem> {
            get_one(&state, &caller, $stage, *id).await
        }

        /// Change a {person}: only the fields given change; `null` clears a field. A new
        /// phone number or email address resets consent on that channel. Send
        /// `If-Match` with the `ETag` you read to refuse the change (412) if someone
        /// else changed the {person} since.
        ///
        /// Permission: `ManageCustomers`.
        #[utoipa::path(
            tag = $tag,
            security(("bearer" = [])),
            params(
                ("id" = Uuid, Path, description = "The {person}'s id"),
                ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[^"]*"( *, *(W/)?"[^"]*")*)$"#, description = "The `ETag` last read"),
            ),
            request_body = UpdatePersonRequest,
            responses(
                (status = 200, description = "The changed {person}", body = PersonView),
                (status = 403, description = "The caller may not change {people}", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "The {person} changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[patch("/{id}")]
        pub async fn $update(
            state: web::Data<AppState>,
            caller: Caller,
            id: web::Path<Uuid>,
            if_match: IfMatch,
            body: Json<UpdatePersonRequest>,
        ) -> Result<HttpResponse, Problem> {
            update(&state, &caller, $stage, *id, if_match, &body.0).await
        }

        /// Erase a {person} and everything about them: tags, consent history, and whatever
        /// else refers to them. There is no undo.
        ///
        /// Permission: `ManageCustomers`.
        #[utoipa::path(
            tag = $tag,
            security(("bearer" = [])),
            params(
                ("id" = Uuid, Path, description = "The {person}'s id"),
                ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[^"]*"( *, *(W/)?"[^"]*")*)$"#, description = "The `ETag` last read"),
            ),
            responses(
                (status = 204, description = "Erased"),
                (status = 403, description = "The caller may not delete {people}", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "The {person} changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[delete("/{id}")]
        pub async fn $delete(
            state: web::Data<AppState>,
            caller: Caller,
            id: web::Path<Uuid>,
            if_match: IfMatch,
        ) -> Result<HttpResponse, Problem> {
            remove(&state, &caller, $stage, *id, if_match).await
        }

        /// The {person}'s consent per channel and its full history.
        ///
        /// Permission: `ViewCustomers`.
        #[utoipa::path(
            tag = $tag,
            security(("bearer" = [])),
            params(("id" = Uuid, Path, description = "The {person}'s id")),
            responses(
                (status = 200, description = "Current consent and history", body = ConsentView),
                (status = 403, description = "The caller may not read {people}", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[get("/{id}/consent")]
        pub async fn $consent(
            state: web::Data<AppState>,
            caller: Caller,
            id: web::Path<Uuid>,
        ) -> Result<HttpResponse, Problem> {
            consent(&state, &caller, $stage, *id).await
        }

        /// Record a consent decision of the {person} for one channel. Opting in needs the
        /// contact detail of that channel (a phone number for `sms`, an email address
        /// for `email`).
        ///
        /// Permission: `ManageCustomers`.
        #[utoipa::path(
            tag = $tag,
            security(("bearer" = [])),
            params(("id" = Uuid, Path, description = "The {person}'s id")),
            request_body = ConsentRequest,
            responses(
                (status = 201, description = "Recorded", body = ConsentRecorded),
                (status = 403, description = "The caller may not change {people}", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[post("/{id}/consent")]
        pub async fn $record_consent(
            state: web::Data<AppState>,
            caller: Caller,
            id: web::Path<Uuid>,
            body: Json<ConsentRequest>,
        ) -> Result<HttpResponse, Problem> {
            record_consent(&state, &caller, $stage, *id, &body.0).await
        }

        /// Registers the stage's operations, in its collection's scope.
        pub fn $register(cfg: &mut ServiceConfig) {
            cfg.service($list)
                .service($create)
                .service($get)
                .service($update)
                .service($delete)
                .service($consent)
                .service($record_consent);
        }
    };
}

stage_routes! {
    stage: Stage::Customer,
    tag: "customers",
    register: customer_routes,
    list: list_customers,
    create: create_customer,
    get: get_customer,
    update: update_customer,
    delete: delete_customer,
    consent: get_customer_consent,
    record_consent: record_customer_consent,
}

stage_routes! {
    stage: Stage::Prospect,
    tag: "prospects",
    register: prospect_routes,
    list: list_prospects,
    create: create_prospect,
    get: get_prospect,
    update: update_prospect,
    delete: delete_prospect,
    consent: get_prospect_consent,
    record_consent: record_prospect_consent,
}

/// Make a prospect a customer. The id, tags, consent and history stay;
/// `converted_at` records when.
///
/// Permission: `ManageCustomers`.
#[utoipa::path(
    tag = "prospects",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "The prospect's id"),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|(W/)?"[^"]*"( *, *(W/)?"[^"]*")*)$"#, description = "The `ETag` last read"),
    ),
    responses(
        (status = 200, description = "The customer it became", body = PersonView),
        (status = 403, description = "The caller may not change prospects", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The person is a customer already", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The prospect changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/convert")]
pub async fn convert_prospect(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, Problem> {
    let record = people::convert(&state, &caller, Id::from_uuid(*id), *if_match).await?;
    Ok(person_response(StatusCode::OK, &PersonView::from(record)))
}
