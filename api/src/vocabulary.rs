//! The closed sets of words that requests may use, as schemas for the OpenAPI
//! document. Handlers read these fields as strings so a wrong word gets a 422
//! that names the field and lists the choices; these types only describe the
//! choices to clients and contract tests. `vocabulary_matches_the_domain`
//! keeps them in step with the domain's own lists.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Owner,
    Admin,
    Dispatcher,
    Technician,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatusName {
    Scheduled,
    Confirmed,
    EnRoute,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelName {
    Sms,
    Email,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatusName {
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Suppressed,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatusName {
    OptedIn,
    OptedOut,
}

/// Sources a client may record; the service records the others itself.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSourceName {
    Form,
    Verbal,
    Import,
    Api,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyScopeName {
    Read,
    Write,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeopleSort {
    Created,
    Name,
    Updated,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteFormat {
    Geojson,
    Gpx,
}

/// The type of an event (`GET /v1/events`, webhooks).
#[derive(Serialize, ToSchema, Clone, Copy)]
pub enum EventTypeName {
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "customer.updated")]
    CustomerUpdated,
    #[serde(rename = "customer.deleted")]
    CustomerDeleted,
    #[serde(rename = "prospect.created")]
    ProspectCreated,
    #[serde(rename = "prospect.updated")]
    ProspectUpdated,
    #[serde(rename = "prospect.deleted")]
    ProspectDeleted,
    #[serde(rename = "prospect.converted")]
    ProspectConverted,
    #[serde(rename = "consent.changed")]
    ConsentChanged,
    #[serde(rename = "appointment.created")]
    AppointmentCreated,
    #[serde(rename = "appointment.updated")]
    AppointmentUpdated,
    #[serde(rename = "appointment.rescheduled")]
    AppointmentRescheduled,
    #[serde(rename = "appointment.status_changed")]
    AppointmentStatusChanged,
    #[serde(rename = "appointment.deleted")]
    AppointmentDeleted,
    #[serde(rename = "shift.clocked_in")]
    ShiftClockedIn,
    #[serde(rename = "shift.clocked_out")]
    ShiftClockedOut,
    #[serde(rename = "message.queued")]
    MessageQueued,
    #[serde(rename = "message.sent")]
    MessageSent,
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    #[serde(rename = "message.failed")]
    MessageFailed,
    #[serde(rename = "message.suppressed")]
    MessageSuppressed,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    #[serde(rename = "account.deleted")]
    AccountDeleted,
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventTypeName {
    pub const ALL: [EventTypeName; 25] = [
        EventTypeName::CustomerCreated,
        EventTypeName::CustomerUpdated,
        EventTypeName::CustomerDeleted,
        EventTypeName::ProspectCreated,
        EventTypeName::ProspectUpdated,
        EventTypeName::ProspectDeleted,
        EventTypeName::ProspectConverted,
        EventTypeName::ConsentChanged,
        EventTypeName::AppointmentCreated,
        EventTypeName::AppointmentUpdated,
        EventTypeName::AppointmentRescheduled,
        EventTypeName::AppointmentStatusChanged,
        EventTypeName::AppointmentDeleted,
        EventTypeName::ShiftClockedIn,
        EventTypeName::ShiftClockedOut,
        EventTypeName::MessageQueued,
        EventTypeName::MessageSent,
        EventTypeName::MessageDelivered,
        EventTypeName::MessageFailed,
        EventTypeName::MessageSuppressed,
        EventTypeName::UserCreated,
        EventTypeName::UserUpdated,
        EventTypeName::UserDeleted,
        EventTypeName::AccountDeleted,
        EventTypeName::WebhookTest,
    ];
}

/// What a webhook endpoint receives in `data`: `thin` (the event) or `full`
/// (the event and the record as `GET` returns it at delivery).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookPayloadName {
    Thin,
    Full,
}

/// What became of a reminder.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStatusName {
    Scheduled,
    Cancelled,
    Sent,
    Failed,
    Suppressed,
}

/// Why a message was sent.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKindName {
    Manual,
    Reminder,
    Confirmation,
    OnMyWay,
}

/// A consent decision as the history records it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentChangeName {
    OptedIn,
    OptedOut,
    Reset,
}

/// Every source a consent decision can have: the clients' and the service's own.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSourceRecordedName {
    Form,
    Verbal,
    Import,
    Api,
    InboundStop,
    UnsubscribeLink,
    ContactChanged,
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use fieldcrm_domain::messaging::MessageStatus;
    use fieldcrm_domain::permissions::{ApiKeyScope, Role};
    use fieldcrm_domain::scheduling::Status;
    use fieldcrm_domain::{Channel, ConsentChange, ConsentSource, ConsentStatus};

    use super::*;

    fn words<T: Serialize>(values: &[T]) -> Vec<String> {
        values
            .iter()
            .map(|v| {
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn recorded_words_are_the_domains() {
        use fieldcrm_domain::messaging::MessageKind;
        let sources = [
            ConsentSource::Form,
            ConsentSource::Verbal,
            ConsentSource::Import,
            ConsentSource::Api,
            ConsentSource::InboundStop,
            ConsentSource::UnsubscribeLink,
            ConsentSource::ContactChanged,
        ]
        .map(ConsentSource::as_str);
        assert_eq!(
            words(&[
                ConsentSourceRecordedName::Form,
                ConsentSourceRecordedName::Verbal,
                ConsentSourceRecordedName::Import,
                ConsentSourceRecordedName::Api,
                ConsentSourceRecordedName::InboundStop,
                ConsentSourceRecordedName::UnsubscribeLink,
                ConsentSourceRecordedName::ContactChanged,
            ]),
            sources
        );
        let changes = [
            ConsentChange::OptedIn,
            ConsentChange::OptedOut,
            ConsentChange::Reset,
        ]
        .map(ConsentChange::as_str);
        assert_eq!(
            words(&[
                ConsentChangeName::OptedIn,
                ConsentChangeName::OptedOut,
                ConsentChangeName::Reset,
            ]),
            changes
        );
        for word in words(&[
            MessageKindName::Manual,
            MessageKindName::Reminder,
            MessageKindName::Confirmation,
            MessageKindName::OnMyWay,
        ]) {
            assert!(MessageKind::from_str(&word).is_ok(), "{word}");
        }
    }

    #[test]
    fn event_types_are_the_ones_published() {
        let names = words(&EventTypeName::ALL);
        assert_eq!(names, fieldcrm_app::events::EVENT_TYPES.to_vec());
        for word in words(&[WebhookPayloadName::Thin, WebhookPayloadName::Full]) {
            assert!(
                fieldcrm_app::webhooks::PayloadKind::parse(&word).is_ok(),
                "{word}"
            );
        }
    }

    #[test]
    fn vocabulary_matches_the_domain() {
        use AppointmentStatusName as S;
        let roles = words(&[
            RoleName::Owner,
            RoleName::Admin,
            RoleName::Dispatcher,
            RoleName::Technician,
        ]);
        assert_eq!(roles.len(), Role::ALL.len());
        assert!(roles.iter().all(|w| Role::from_str(w).is_ok()), "{roles:?}");
        let statuses = words(&[
            S::Scheduled,
            S::Confirmed,
            S::EnRoute,
            S::InProgress,
            S::Completed,
            S::Cancelled,
            S::NoShow,
        ]);
        assert_eq!(statuses.len(), Status::ALL.len());
        assert!(statuses.iter().all(|w| Status::from_str(w).is_ok()));
        let message_statuses = words(&[
            MessageStatusName::Queued,
            MessageStatusName::Sending,
            MessageStatusName::Sent,
            MessageStatusName::Delivered,
            MessageStatusName::Undelivered,
            MessageStatusName::Failed,
            MessageStatusName::Suppressed,
        ]);
        let domain: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(message_statuses, domain);
        for word in words(&[ChannelName::Sms, ChannelName::Email]) {
            assert!(Channel::from_str(&word).is_ok(), "{word}");
        }
        for word in words(&[ConsentStatusName::OptedIn, ConsentStatusName::OptedOut]) {
            assert!(ConsentStatus::from_str(&word).is_ok(), "{word}");
        }
        for word in words(&[
            ConsentSourceName::Form,
            ConsentSourceName::Verbal,
            ConsentSourceName::Import,
            ConsentSourceName::Api,
        ]) {
            assert!(ConsentSource::parse_from_client(&word).is_ok(), "{word}");
        }
        for word in words(&[ApiKeyScopeName::Read, ApiKeyScopeName::Write]) {
            assert!(ApiKeyScope::from_str(&word).is_ok(), "{word}");
        }
    }
}
