//! Messages: sending, the log, Twilio's webhooks and the unsubscribe link.

use actix_web::http::header::ContentType;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use fieldcrm_db::messages::{Filter, Message};
use fieldcrm_db::Id;
use fieldcrm_domain::messaging::MessageBody;
use fieldcrm_domain::messaging::MessageStatus;
use fieldcrm_domain::{single_line, Channel};
use fieldcrm_notify::twilio_signature;
use secrecy::ExposeSecret;

use crate::auth::Caller;
use crate::extract::Json;
use crate::paging::{Page, PageQuery, PageRequest};
use crate::preconditions::IdempotencyKey;
use crate::problem::{Fields, Problem};
use crate::routes::{created_response, to_json};
use fieldcrm_app::idempotency;
use fieldcrm_app::messaging::{self, NewMessage};
use fieldcrm_app::state::AppState;

/// One SMS or email and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    /// The customer or prospect.
    pub customer_id: Uuid,
    pub appointment_id: Option<Uuid>,
    #[schema(value_type = crate::vocabulary::MessageKindName)]
    pub kind: String,
    #[schema(value_type = crate::vocabulary::ChannelName)]
    pub channel: String,
    /// The number or address it went to; set once sending starts.
    pub recipient: Option<String>,
    pub subject: Option<String>,
    /// `null` once the account's message retention has passed.
    pub body: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed` or `suppressed`
    /// (never sent: the person had not opted in when it was due).
    #[schema(value_type = crate::vocabulary::MessageStatusName, example = "sent")]
    pub status: String,
    /// Why it is in that status, e.g. `no_consent`, `quiet_hours`, the provider's error.
    pub status_reason: Option<String>,
    /// The provider's error code, e.g. Twilio's `21211`.
    pub error_code: Option<String>,
    /// Sending attempts so far.
    pub attempts: i32,
    /// Quiet hours hold an SMS until this time.
    pub send_after: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        MessageView {
            id: m.id.uuid(),
            customer_id: m.person_id.uuid(),
            appointment_id: m.appointment_id.map(|a| a.uuid()),
            kind: m.kind.as_str().to_owned(),
            channel: m.channel.as_str().to_owned(),
            recipient: m.recipient,
            subject: m.subject,
            body: m.body,
            status: m.status.as_str().to_owned(),
            status_reason: m.status_reason,
            error_code: m.error_code,
            attempts: m.attempts,
            send_after: m.send_after.map(|t| t.get()),
            created_at: m.created_at.get(),
            updated_at: m.updated_at.get(),
            sent_at: m.sent_at.map(|t| t.get()),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// A customer or prospect of the account.
    pub customer_id: Uuid,
    #[schema(value_type = crate::vocabulary::ChannelName, inline)]
    pub channel: String,
    /// Up to 1600 characters for SMS, 20000 for email.
    pub body: String,
    /// Email only; defaults to "A message from <business name>".
    pub subject: Option<String>,
}

/// Send an SMS or email to a customer or prospect. It is queued and sent by the
/// worker; consent is checked now (422 `consent_required` without an opt-in on
/// that channel) and again when it goes out (`suppressed` if withdrawn
/// meanwhile). SMS wait for the end of the account's quiet hours. Send an
/// `Idempotency-Key` to make retries safe.
///
/// Permission: `SendMessages`.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[!-~]+$", description = "A unique key per intended message, e.g. a UUID")),
    request_body(content = SendMessageRequest, example = json!({
        "customer_id": "0193a5c4-0a4e-7c1d-9f0e-3c2b1a0f9e8d",
        "channel": "sms",
        "body": "Hi Ada, Sam is on the way and should be with you by 3:15."
    })),
    responses(
        (status = 202, description = "Queued; follow it at `Location`", body = MessageView),
        (status = 403, description = "The caller may not send messages", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A replay (same `Idempotency-Key`) of a request whose record has since been deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields; or `consent_required`: no opt-in on that channel; or `channel_unavailable`: the channel is not configured on this server", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn send_message(
    state: web::Data<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    body: Json<SendMessageRequest>,
) -> Result<HttpResponse, Problem> {
    messaging::authorize_sending(&caller)?;
    let input = parse_new(&body.0)?;
    let account = caller.account_id;
    let app = state.get_ref().clone();
    let result = idempotency::run(
        &state,
        account,
        key.with_body(&body.1),
        move |conn| {
            let message = messaging::queue_in(conn, &app, &caller, input)?;
            Ok((
                StatusCode::ACCEPTED.as_u16(),
                to_json(&MessageView::from(message))?,
            ))
        },
        move |conn, id| {
            messaging::find_in(conn, account, Id::from_uuid(id))?
                .map(|message| to_json(&MessageView::from(message)))
                .transpose()
        },
    )
    .await?;
    Ok(created_response(&result, "/v1/messages"))
}

fn parse_new(body: &SendMessageRequest) -> Result<NewMessage, Problem> {
    let mut fields = Fields::default();
    let channel: Option<Channel> = fields.check("channel", body.channel.parse());
    let text = channel.and_then(|c| fields.check("body", MessageBody::parse(&body.body, c)));
    let subject = match (&body.subject, channel) {
        (Some(_), Some(Channel::Sms)) => {
            fields.push(crate::problem::FieldError::new(
                "subject",
                "only emails have a subject",
            ));
            None
        }
        (Some(raw), _) => fields.check("subject", single_line(raw, 200)),
        (None, _) => None,
    };
    fields.finish()?;
    match (channel, text) {
        (Some(channel), Some(body_text)) => Ok(NewMessage {
            person: Id::from_uuid(body.customer_id),
            channel,
            body: body_text,
            subject,
        }),
        _ => Err(Problem::internal()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Only messages in this status.
    #[param(value_type = Option<crate::vocabulary::MessageStatusName>, inline)]
    pub status: Option<String>,
    /// Only messages sent by SMS, or only by email.
    #[param(value_type = Option<crate::vocabulary::ChannelName>, inline)]
    pub channel: Option<String>,
    /// Only messages to this customer or prospect.
    pub customer_id: Option<Uuid>,
    /// Only messages about this appointment.
    pub appointment_id: Option<Uuid>,
    /// Most rows to return, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[serde(default, deserialize_with = "crate::extract::non_empty")]
    pub cursor: Option<String>,
}

/// The message log, newest first.
///
/// Permission: `ViewMessages`.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(MessagesQuery),
    responses(
        (status = 200, description = "A page of messages", body = Page<MessageView>),
        (status = 403, description = "The caller may not read the message log", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_messages(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<MessagesQuery>,
) -> Result<HttpResponse, Problem> {
    let (page, filter) = parse_messages_query(&query)?;
    let rows = messaging::list(&state, &caller, filter).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        page,
        rows,
        |m| m.id.uuid(),
        MessageView::from,
    )))
}

/// The log's filters and page as the data layer takes them; the web's messages
/// page sends the same query.
pub fn parse_messages_query(query: &MessagesQuery) -> Result<(PageRequest, Filter), Problem> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let mut fields = Fields::default();
    let status = match query.status.as_deref().map(str::parse::<MessageStatus>) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(_)) => {
            let all: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
            fields.push(crate::problem::FieldError::new(
                "status",
                format!("must be one of {}", all.join(", ")),
            ));
            None
        }
    };
    let channel: Option<Channel> = query
        .channel
        .as_deref()
        .and_then(|c| fields.check("channel", c.parse()));
    fields.finish()?;
    let filter = Filter {
        status,
        channel,
        person: query.customer_id.map(Id::from_uuid),
        appointment: query.appointment_id.map(Id::from_uuid),
        before: page.after(),
        limit: page.fetch(),
    };
    Ok((page, filter))
}

/// One message of the log.
///
/// Permission: `ViewMessages`.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The message's id")),
    responses(
        (status = 200, description = "The message", body = MessageView),
        (status = 403, description = "The caller may not read the message log", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_message(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let message = messaging::get(&state, &caller, Id::from_uuid(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(MessageView::from(message)))
}

// ---- Twilio webhooks -------------------------------------------------------

/// The form Twilio posts, after its signature was checked against the
/// configured public URL and the auth token.
fn signed_form(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Vec<(String, String)>, Problem> {
    let forbidden = || Problem::forbidden("the request does not carry a valid X-Twilio-Signature");
    let token = state
        .outbound
        .twilio_auth_token
        .as_ref()
        .ok_or_else(forbidden)?;
    let is_form = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Problem::unsupported_media_type()
            .with_detail("send application/x-www-form-urlencoded, as Twilio does"));
    }
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Problem::bad_request("the body is not a form"))?;
    let signature = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(forbidden)?;
    let path = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or(req.path());
    let url = format!("{}{path}", state.outbound.public_base_url);
    if !twilio_signature::verify(token.expose_secret(), &url, &params, signature) {
        tracing::warn!("a Twilio webhook with a wrong signature was refused");
        return Err(forbidden());
    }
    if let Some((name, _)) = params
        .iter()
        .find(|(_, value)| value.chars().any(crate::extract::is_refused_control))
    {
        return Err(Problem::invalid_field(
            name,
            "must not contain NUL or other control characters",
        ));
    }
    Ok(params)
}

fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The fields of Twilio's status callback this service reads (Twilio sends more).
#[derive(ToSchema)]
#[schema(as = TwilioStatusForm)]
#[expect(
    dead_code,
    reason = "describes the form for the OpenAPI document; the handler checks the signature over the raw fields"
)]
pub struct TwilioStatusForm {
    #[schema(rename = "MessageSid", example = "SM00000000000000000000000000000001")]
    message_sid: String,
    /// `queued`, `sent`, `delivered`, `undelivered` or `failed`.
    #[schema(rename = "MessageStatus", example = "delivered")]
    message_status: String,
    #[schema(rename = "ErrorCode")]
    error_code: Option<String>,
}

/// The fields of an incoming message this service reads (Twilio sends more).
#[derive(ToSchema)]
#[schema(as = TwilioInboundForm)]
#[expect(
    dead_code,
    reason = "describes the form for the OpenAPI document; the handler checks the signature over the raw fields"
)]
pub struct TwilioInboundForm {
    /// The sender, E.164.
    #[schema(rename = "From", example = "+15125550123")]
    from: String,
    #[schema(rename = "Body", example = "STOP")]
    body: Option<String>,
}

/// Twilio's status callback for a sent SMS (`MessageSid`, `MessageStatus`,
/// `ErrorCode`): the message becomes `sent`, `delivered`, `undelivered` or
/// `failed`; a late callback never moves it back.
///
/// Public: authenticated by `X-Twilio-Signature` (HMAC-SHA1 with the Twilio auth
/// token over the public URL and the sorted form fields); 403 without a valid one.
#[utoipa::path(
    tag = "messages",
    request_body(content = TwilioStatusForm, content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback form"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request")),
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "The body is not a form", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing or wrong signature; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not a form", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The form lacks `MessageSid` or `MessageStatus`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/webhooks/twilio/status")]
pub async fn twilio_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let params = signed_form(&state, &req, &body)?;
    let (Some(sid), Some(status)) = (
        param(&params, "MessageSid"),
        param(&params, "MessageStatus"),
    ) else {
        return Err(Problem::invalid_field(
            "MessageSid",
            "a status callback needs MessageSid and MessageStatus",
        ));
    };
    let error_code = param(&params, "ErrorCode").filter(|c| !c.is_empty());
    messaging::delivery_report(&state, sid, status, error_code).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A text sent to the service's number. A body that is only a STOP word (STOP,
/// STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; any case) opts the sender out of
/// SMS, in every account that holds their number, kept in the consent history
/// with source `inbound_stop`. START or UNSTOP undoes only such an opt-out, back
/// to the opt-in it ended; it never creates consent. "YES" is not a keyword.
/// Answers with empty TwiML, so Twilio sends no reply of its own making.
///
/// Public: authenticated by `X-Twilio-Signature`; 403 without a valid one.
#[utoipa::path(
    tag = "messages",
    request_body(content = TwilioInboundForm, content_type = "application/x-www-form-urlencoded", description = "Twilio's incoming message form"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature of the request")),
    responses(
        (status = 200, description = "Empty TwiML", content_type = "text/xml", body = String),
        (status = 400, description = "The body is not a form", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing or wrong signature; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not a form", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The form lacks `From`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/webhooks/twilio/inbound")]
pub async fn twilio_inbound(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let params = signed_form(&state, &req, &body)?;
    let Some(from) = param(&params, "From") else {
        return Err(Problem::invalid_field(
            "From",
            "an incoming message needs From",
        ));
    };
    let text = param(&params, "Body").unwrap_or_default();
    let changed = messaging::inbound_sms(&state, from, text).await?;
    if changed > 0 {
        tracing::info!(people = changed, "consent changed by an SMS reply");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/xml")
        .body(r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#))
}

// ---- unsubscribe -----------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// The token from the email's link.
    pub token: String,
}

fn page(title: &str, text: &str, form_action: Option<&str>) -> HttpResponse {
    let form = form_action
        .map(|action| {
            format!(
                r#"<form method="post" action="{action}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>"#
            )
        })
        .unwrap_or_default();
    HttpResponse::Ok().insert_header(ContentType::html()).body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p>{form}</body></html>"
    ))
}

/// The page an email's visible unsubscribe link opens. It asks for one click
/// and changes nothing by itself: link scanners in mail systems open links.
///
/// Public: the signed token is the authority; 404 for a token this service did
/// not sign.
#[utoipa::path(
    tag = "messages",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "A page with an Unsubscribe button", content_type = "text/html", body = String),
        (status = 404, description = "`invalid_link`: the token was not signed by this service", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/unsubscribe")]
pub async fn unsubscribe_page(
    state: web::Data<AppState>,
    query: web::Query<UnsubscribeQuery>,
) -> Result<HttpResponse, Problem> {
    let person = messaging::check_unsubscribe_token(&state, &query.token)?;
    // Built from the verified id, never from the request's text.
    let action = format!(
        "/v1/unsubscribe?token={}",
        state.tokens.unsubscribe_token(person.uuid())
    );
    Ok(page(
        "Unsubscribe",
        "Press the button to stop receiving emails from this business.",
        Some(&action),
    ))
}

/// One-click unsubscribe (RFC 8058): mail clients POST
/// `List-Unsubscribe=One-Click` here (the body is not needed); the button of the page does the same. The
/// person is opted out of email with source `unsubscribe_link`. Repeating it
/// changes nothing.
///
/// Public: the signed token is the authority; 404 for a token this service did
/// not sign.
#[utoipa::path(
    tag = "messages",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "Unsubscribed", content_type = "text/html", body = String),
        (status = 404, description = "`invalid_link`: the token was not signed by this service", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/unsubscribe")]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<UnsubscribeQuery>,
) -> Result<HttpResponse, Problem> {
    messaging::unsubscribe(&state, &query.token).await?;
    Ok(page(
        "Unsubscribed",
        "You will receive no more emails from this business.",
        None,
    ))
}
