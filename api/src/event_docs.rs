//! The OpenAPI 3.1 `webhooks` section: every event type, the body it arrives
//! with (thin and full) and the headers that sign it. utoipa has no model for
//! `webhooks`, so the section is written here as JSON and joins the document
//! at its root.

use serde_json::{json, Map, Value};

use fieldcrm_app::events::EVENT_TYPES;

const VERIFY: &str = "Every delivery is signed as Standard Webhooks 1.0 says: compute \
HMAC-SHA256, keyed with the base64-decoded part of the endpoint's secret after `whsec_`, of \
`{webhook-id}.{webhook-timestamp}.{body}` (the raw body bytes), base64-encode it, and compare it \
in constant time with each `v1,`-prefixed signature in `webhook-signature` (during a secret \
rotation there are two). Refuse a timestamp more than five minutes from your clock. The \
standard's libraries (e.g. `standardwebhooks` for Python, Rust, JavaScript, Go) do all of it. \
Answer 2xx within 10 seconds; any other answer, a redirect or no answer is retried on the \
schedule 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h; `410 Gone` disables the \
endpoint. Delivery is at least once: deduplicate on `webhook-id`.";

/// What `data` holds for an event type, and which record a full payload adds.
fn data_of(event_type: &str) -> (Value, Option<&'static str>) {
    let uuid = json!({"type": "string", "format": "uuid"});
    let changed = json!({"type": "array", "items": {"type": "string"},
        "description": "The names of the fields whose values changed"});
    let record = |object: Option<&'static str>, extra: Vec<(&str, Value)>| {
        let mut properties = Map::new();
        properties.insert("id".into(), uuid.clone());
        for (name, schema) in extra {
            properties.insert(name.into(), schema);
        }
        if let Some(object) = object {
            properties.insert(
                "object".into(),
                json!({"description": format!("Full payloads only: the record as `GET` returns it when the delivery is made; `null` once it is gone"),
                    "oneOf": [{"$ref": format!("#/components/schemas/{object}")}, {"type": "null"}]}),
            );
        }
        (
            json!({"type": "object", "required": ["id"], "properties": properties}),
            object,
        )
    };
    let object = match event_type.split('.').next() {
        Some("customer" | "prospect") => Some("PersonView"),
        Some("appointment") => Some("AppointmentView"),
        Some("user") => Some("UserView"),
        _ => None,
    }
    .filter(|_| !event_type.ends_with(".deleted"));
    match event_type {
        "consent.changed" => (
            json!({"type": "object", "required": ["customer_id", "channel", "status", "source"], "properties": {
                "customer_id": uuid,
                "stage": {"type": "string", "enum": ["customer", "prospect"]},
                "channel": {"type": "string", "enum": ["sms", "email"]},
                "status": {"type": "string", "enum": ["opted_in", "opted_out", "reset"]},
                "source": {"type": "string"}}}),
            None,
        ),
        "shift.clocked_in" | "shift.clocked_out" => (
            json!({"type": "object", "required": ["id", "user_id", "clock_in_at"], "properties": {
                "id": uuid, "user_id": uuid,
                "clock_in_at": {"type": "string", "format": "date-time"},
                "clock_out_at": {"type": ["string", "null"], "format": "date-time"},
                "closed_by": {"type": ["string", "null"]}},
                "description": "Never a position"}),
            None,
        ),
        t if t.starts_with("message.") => (
            json!({"type": "object", "required": ["id", "customer_id", "channel", "status"], "properties": {
                "id": uuid, "customer_id": uuid,
                "appointment_id": {"type": ["string", "null"], "format": "uuid"},
                "channel": {"type": "string", "enum": ["sms", "email"]},
                "status": {"type": "string"}},
                "description": "Never the text of the message"}),
            None,
        ),
        "webhook.test" => (
            json!({"type": "object", "required": ["endpoint_id"], "properties": {"endpoint_id": uuid}}),
            None,
        ),
        "appointment.status_changed" => record(
            object,
            vec![
                ("from", json!({"type": "string"})),
                ("to", json!({"type": "string"})),
            ],
        ),
        t if t.ends_with(".updated") || t.ends_with(".rescheduled") => {
            record(object, vec![("changed", changed)])
        }
        _ => record(object, vec![]),
    }
}

/// The shapes `data` takes in the events feed, by schema name: the feed is
/// thin (no `object`), and which shape an event has follows from its `type`
/// (each type's own is in `webhooks`).
pub fn feed_data_shapes() -> Vec<(&'static str, Value)> {
    let thin = |event_type: &str| {
        let (mut data, _) = data_of(event_type);
        if let Some(properties) = data["properties"].as_object_mut() {
            properties.remove("object");
        }
        data
    };
    let mut record = thin("appointment.status_changed");
    record["properties"]["changed"] = thin("appointment.updated")["properties"]["changed"].clone();
    record["description"] = json!("A record's change: `changed` for updates and reschedules, `from` and `to` for a status change");
    vec![
        ("RecordEventData", record),
        ("ConsentEventData", thin("consent.changed")),
        ("ShiftEventData", thin("shift.clocked_in")),
        ("MessageEventData", thin("message.sent")),
        ("WebhookTestEventData", thin("webhook.test")),
    ]
}

fn describe(event_type: &str) -> &'static str {
    match event_type {
        "customer.deleted" | "prospect.deleted" => {
            "The person was erased. Subscribers must erase every copy they hold of them."
        }
        "account.deleted" => {
            "The account was deleted with everything in it: the last event an endpoint receives. Subscribers must erase everything they hold of the account."
        }
        "prospect.converted" => "The prospect became a customer (same id).",
        "appointment.rescheduled" => "The appointment's start or end changed.",
        "webhook.test" => "Sent by `POST /v1/webhook-endpoints/{id}/test`.",
        _ => "",
    }
}

/// The `webhooks` object: one POST per event type.
pub fn webhooks() -> Value {
    let header = |name: &str, description: &str, example: &str| {
        json!({"name": name, "in": "header", "required": true, "description": description,
            "schema": {"type": "string"}, "example": example})
    };
    let headers = json!([
        header(
            "webhook-id",
            "The event's id, the same on every attempt: deduplicate on it",
            "0193a5c4-0a4e-7c1d-9f0e-3c2b1a0f9e8d"
        ),
        header(
            "webhook-timestamp",
            "Unix seconds of this attempt",
            "1764950400"
        ),
        header(
            "webhook-signature",
            "Space-separated `v1,<base64 HMAC-SHA256>` signatures",
            "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
        ),
    ]);
    let mut out = Map::new();
    for event_type in EVENT_TYPES {
        let (data, _) = data_of(event_type);
        let extra = describe(event_type);
        out.insert(
            (*event_type).to_owned(),
            json!({"post": {
                "operationId": format!("webhook_{}", event_type.replace('.', "_")),
                "tags": ["webhooks"],
                // Signed (see the description), not authenticated by a scheme.
                "security": [],
                "summary": format!("`{event_type}`"),
                "description": format!("{extra}{}{VERIFY}", if extra.is_empty() { "" } else { "\n\n" }),
                "parameters": headers,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["type", "timestamp", "data"],
                    "properties": {
                        "type": {"type": "string", "const": event_type},
                        "timestamp": {"type": "string", "format": "date-time", "description": "When the event occurred"},
                        "data": data,
                    }}}}},
                "responses": {
                    "2XX": {"description": "Received"},
                    "410": {"description": "Gone: the endpoint is disabled and nothing more is sent"},
                    "default": {"description": "Anything else: the delivery is tried again later"},
                },
            }}),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_types_feed_data_has_a_shape() {
        let shapes = feed_data_shapes();
        for event_type in EVENT_TYPES {
            let (data, _) = data_of(event_type);
            let fits = shapes.iter().any(|(_, shape)| {
                data["required"] == shape["required"]
                    && data["properties"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .filter(|(name, _)| *name != "object")
                        .all(|(name, schema)| shape["properties"][name] == *schema)
            });
            assert!(fits, "{event_type}: {data}");
        }
    }

    #[test]
    fn every_event_type_is_documented_with_its_own_type() {
        let hooks = webhooks();
        assert_eq!(hooks.as_object().unwrap().len(), EVENT_TYPES.len());
        for t in EVENT_TYPES {
            let schema = &hooks[*t]["post"]["requestBody"]["content"]["application/json"]["schema"];
            assert_eq!(schema["properties"]["type"]["const"], *t);
        }
        assert!(hooks["customer.updated"]["post"]["requestBody"]
            .to_string()
            .contains("PersonView"));
        assert!(!hooks["customer.deleted"]["post"]["requestBody"]
            .to_string()
            .contains("PersonView"));
    }
}
