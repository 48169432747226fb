//! The message log: every text and email the account sent or held back, with
//! its delivery status, newest first.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::html;
use serde::Deserialize;

use fieldcrm_app::{messaging, AppState};
use fieldcrm_domain::messaging::MessageStatus;
use fieldcrm_domain::Channel;

use super::error::PageError;
use super::layout::{self, Section};
use super::session::SignedIn;
use super::words;
use crate::paging::Page;
use crate::routes::messages::{parse_messages_query, MessagesQuery};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/messages", web::get().to(list));
}

#[derive(Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    cursor: String,
}

fn non_empty(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

/// What a status means to someone reading the log.
fn status_words(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Queued => "Waiting to be sent",
        MessageStatus::Sending => "Being sent",
        MessageStatus::Sent => "Sent",
        MessageStatus::Delivered => "Delivered",
        MessageStatus::Undelivered => "Not delivered",
        MessageStatus::Failed => "Failed",
        MessageStatus::Suppressed => "Not sent",
    }
}

fn channel_words(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "Text",
        Channel::Email => "Email",
    }
}

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, PageError> {
    let (page, filter) = parse_messages_query(&MessagesQuery {
        status: non_empty(&query.status),
        channel: non_empty(&query.channel),
        customer_id: None,
        appointment_id: None,
        limit: None,
        cursor: non_empty(&query.cursor),
    })?;
    let rows = messaging::list(&state, &signed_in.caller, filter).await?;
    let zone = words::zone(&state, &signed_in).await?;
    let found = Page::from_rows(page, rows, |m| m.id.uuid(), |m| m);
    let next = found.next_cursor.as_ref().map(|cursor| {
        let query = serde_urlencoded::to_string([
            ("status", query.status.as_str()),
            ("channel", query.channel.as_str()),
            ("cursor", cursor),
        ])
        .unwrap_or_default();
        format!("/app/messages?{query}")
    });
    let content = html! {
        h1 { "Messages" }
        form class="search" method="get" action="/app/messages" {
            div class="field" {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "Any" }
                    @for status in MessageStatus::ALL {
                        option value=(status.as_str()) selected[query.status == status.as_str()] { (status_words(status)) }
                    }
                }
            }
            div class="field" {
                label for="channel" { "Channel" }
                select id="channel" name="channel" {
                    option value="" { "Any" }
                    @for channel in [Channel::Sms, Channel::Email] {
                        option value=(channel.as_str()) selected[query.channel == channel.as_str()] { (channel_words(channel)) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        @if found.data.is_empty() {
            p { "No messages." }
        } @else {
            table {
                caption { "Messages, newest first" }
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "To" } th scope="col" { "By" }
                    th scope="col" { "Kind" } th scope="col" { "Status" } th scope="col" { "Text" }
                } }
                tbody {
                    @for message in &found.data {
                        tr {
                            td { (words::moment(message.created_at.get(), zone)) }
                            td { (message.recipient.as_deref().unwrap_or("—")) }
                            td { (channel_words(message.channel.0)) }
                            td { (message.kind.0.as_str().replace('_', " ")) }
                            td {
                                (status_words(message.status.0))
                                @if let Some(reason) = &message.status_reason { br; span class="hint" { (reason) } }
                            }
                            td { (message.body.as_deref().unwrap_or("(removed after the retention period)")) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a href=(next) rel="next" { "Older messages" } }
        }
    };
    Ok(layout::frame(
        &signed_in,
        Section::Messages,
        StatusCode::OK,
        "Messages",
        content,
    ))
}
