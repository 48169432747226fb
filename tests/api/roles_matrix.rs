//! Every secured operation of the generated API document, called by an owner,
//! an admin, a dispatcher, a technician, a `read` key and a `write` key. Who may
//! call it is read from the roles line of its documentation ("Roles: ... API
//! keys: ..."), so the document and the server cannot disagree unnoticed: 403
//! exactly for the callers the line does not list, and for the others neither
//! 401, 403 nor a 5xx. (The document is what `openapi.yaml` holds: a test keeps
//! them equal.)

use chrono::{Duration, Utc};
use fieldcrm_test_support::{Day, Signed, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::MockServer;

use crate::google::GoogleStandIn;
use crate::messages::{app_with_settings, consent, queued, twilio};

const ROLES: [&str; 4] = ["owner", "admin", "dispatcher", "technician"];

/// Who the document lets call an operation, from its roles line.
#[derive(Debug, PartialEq)]
struct Allowed {
    roles: Vec<&'static str>,
    read_key: bool,
    write_key: bool,
}

fn allowed(operation: &str, description: &str) -> Allowed {
    let line = description.replace('\n', " ");
    let roles_at = line
        .find("Roles:")
        .unwrap_or_else(|| panic!("{operation}: no `Roles:` in its description"));
    let keys_at = line
        .find("API keys:")
        .unwrap_or_else(|| panic!("{operation}: no `API keys:` in its description"));
    let roles = &line[roles_at + "Roles:".len()..keys_at];
    let keys = &line[keys_at + "API keys:".len()..];
    let roles = if roles.trim_start().starts_with("any") {
        ROLES.to_vec()
    } else {
        let named: Vec<&str> = ROLES
            .into_iter()
            .filter(|role| {
                roles
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == *role)
            })
            .collect();
        assert!(
            !named.is_empty(),
            "{operation}: roles line names no role: {roles}"
        );
        named
    };
    let keys = keys.trim();
    let (read_key, write_key) = if keys.starts_with("not accepted") {
        (false, false)
    } else if keys.starts_with("`read` scope or wider") || keys.starts_with("any scope") {
        (true, true)
    } else if keys.starts_with("`write` scope") {
        (false, true)
    } else {
        panic!("{operation}: API keys part not understood: {keys}");
    };
    Allowed {
        roles,
        read_key,
        write_key,
    }
}

#[test]
fn roles_lines_are_read_as_written() {
    assert_eq!(
        allowed("x", "Text.\n\nRoles: owner, admin (only an owner may change an owner).\nAPI keys: not accepted."),
        Allowed { roles: vec!["owner", "admin"], read_key: false, write_key: false }
    );
    assert_eq!(
        allowed("x", "Roles: owner, admin, dispatcher (anyone's); technician (their own). API keys: `read` scope or wider."),
        Allowed { roles: ROLES.to_vec(), read_key: true, write_key: true }
    );
    assert_eq!(
        allowed(
            "x",
            "Roles: any signed-in user, for themselves. API keys: `write` scope."
        ),
        Allowed {
            roles: ROLES.to_vec(),
            read_key: false,
            write_key: true
        }
    );
}

/// A caller, and what to sign in with.
struct Caller {
    name: &'static str,
    token: String,
    /// A person's sign-in, for a fresh session where one is ended.
    user: Option<Signed>,
}

/// One account with a row of every kind the operations need.
struct World {
    app: TestApp,
    owner: Signed,
    tech: Signed,
    customer: String,
    prospect: String,
    appointment: String,
    shift: String,
    message: String,
    endpoint: String,
    delivery: String,
    starts: String,
    ends: String,
    _twilio: MockServer,
    _google: GoogleStandIn,
}

impl World {
    async fn new() -> World {
        let twilio = twilio().await;
        let google = GoogleStandIn::start().await;
        let app = app_with_settings(&twilio, None, 8, |s| google.configure(s)).await;
        let owner = crate::messages::owner(&app).await;
        let tech = app.user_with_role(&owner, "technician").await;
        let day = Day::ahead(30);
        let (starts, ends) = (day.at("15:00"), day.at("16:00"));
        let mut world = World {
            customer: String::new(),
            prospect: String::new(),
            appointment: String::new(),
            shift: String::new(),
            message: String::new(),
            endpoint: String::new(),
            delivery: String::new(),
            starts,
            ends,
            app,
            owner,
            tech,
            _twilio: twilio,
            _google: google,
        };
        world.customer = world.person("customers").await;
        consent(&world.app, &world.owner, &world.customer, "sms", "opted_in").await;
        world.prospect = world.person("prospects").await;
        world.appointment = world.appointment().await;
        world.message = queued(
            &world.app,
            &world.owner,
            json!({"customer_id": world.customer, "channel": "sms", "body": "Hello"}),
        )
        .await;
        world.shift = world.clocked_in(&world.tech).await;
        world.endpoint = world.webhook_endpoint().await;
        world
            .ok(
                Method::POST,
                &format!("/v1/webhook-endpoints/{}/test", world.endpoint),
                None,
            )
            .await;
        world.app.run_jobs().await;
        let log = world
            .ok(
                Method::GET,
                &format!("/v1/webhook-endpoints/{}/deliveries", world.endpoint),
                None,
            )
            .await;
        world.delivery = Self::id(&log["data"][0]);
        world
    }

    /// A fresh webhook endpoint for tests only, on the discard port: its
    /// deliveries fail, which is all the log needs.
    async fn webhook_endpoint(&self) -> String {
        let body = json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["webhook.test"]});
        Self::id(
            &self
                .ok(Method::POST, "/v1/webhook-endpoints", Some(body))
                .await,
        )
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let response = self
            .app
            .call(method.clone(), path, &self.owner.access, body)
            .await;
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    fn id(value: &Value) -> String {
        value["id"].as_str().unwrap().to_owned()
    }

    /// A fresh customer or prospect, with an email address and a phone.
    async fn person(&self, collection: &str) -> String {
        let body =
            json!({"name": "Tess Ortiz", "email": "tess@example.net", "phone": "+1 512 555 0170"});
        Self::id(
            &self
                .ok(Method::POST, &format!("/v1/{collection}"), Some(body))
                .await,
        )
    }

    /// A fresh appointment of the customer, assigned to the technician.
    async fn appointment(&self) -> String {
        let body = json!({"customer_id": self.customer, "technician_id": self.tech.user_id,
            "title": "Visit", "starts_at": self.starts, "ends_at": self.ends, "allow_overlap": true});
        Self::id(&self.ok(Method::POST, "/v1/appointments", Some(body)).await)
    }

    async fn clocked_in(&self, who: &Signed) -> String {
        let response = self
            .app
            .call(Method::POST, "/v1/shifts/clock-in", &who.access, None)
            .await;
        assert_eq!(response.status(), 201);
        Self::id(&response.json().await.unwrap())
    }

    /// What `caller` calls the operation with: its own token, or for `logout`
    /// (which ends the session) a session of its own.
    async fn session(&self, operation: &str, caller: &Caller) -> String {
        match (operation, &caller.user) {
            ("logout", Some(user)) => {
                let login = self.app.login(&user.email, PASSWORD).await;
                assert_eq!(login.status(), 200);
                login.json::<Value>().await.unwrap()["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            _ => caller.token.clone(),
        }
    }

    /// The method, path and body with which the operation is tried; rows a
    /// call would remove or change for good are made for that call.
    async fn request(&self, operation: &str) -> (Method, String, Option<Value>) {
        use Method as M;
        let fresh_email = || format!("new-{}@example.com", uuid::Uuid::new_v4().simple());
        match operation {
            "get_account" => (M::GET, "/v1/account".into(), None),
            "update_account" => (
                M::PATCH,
                "/v1/account".into(),
                Some(json!({"name": "Acme Plumbing"})),
            ),
            // The wrong name: an owner gets 422 and the account stays.
            "delete_account" => (
                M::DELETE,
                "/v1/account".into(),
                Some(json!({"password": PASSWORD, "confirm": "not the name"})),
            ),
            "export_account" => (M::GET, "/v1/account/export".into(), None),
            "audit_trail" => (M::GET, "/v1/audit".into(), None),
            "list_events" => (M::GET, "/v1/events".into(), None),
            "list_webhook_endpoints" => (M::GET, "/v1/webhook-endpoints".into(), None),
            "create_webhook_endpoint" => (
                M::POST,
                "/v1/webhook-endpoints".into(),
                Some(json!({"url": "http://127.0.0.1:9/new", "event_types": ["webhook.test"]})),
            ),
            "get_webhook_endpoint" => (
                M::GET,
                format!("/v1/webhook-endpoints/{}", self.endpoint),
                None,
            ),
            "update_webhook_endpoint" => (
                M::PATCH,
                format!("/v1/webhook-endpoints/{}", self.endpoint),
                Some(json!({"description": "Accounting"})),
            ),
            "delete_webhook_endpoint" => (
                M::DELETE,
                format!("/v1/webhook-endpoints/{}", self.webhook_endpoint().await),
                None,
            ),
            "rotate_webhook_secret" => (
                M::POST,
                format!("/v1/webhook-endpoints/{}/rotate-secret", self.endpoint),
                None,
            ),
            "test_webhook_endpoint" => (
                M::POST,
                format!("/v1/webhook-endpoints/{}/test", self.endpoint),
                None,
            ),
            "list_webhook_deliveries" => (
                M::GET,
                format!("/v1/webhook-endpoints/{}/deliveries", self.endpoint),
                None,
            ),
            "retry_webhook_delivery" => (
                M::POST,
                format!(
                    "/v1/webhook-endpoints/{}/deliveries/{}/retry",
                    self.endpoint, self.delivery
                ),
                None,
            ),
            "list_api_keys" => (M::GET, "/v1/api-keys".into(), None),
            "create_api_key" => (
                M::POST,
                "/v1/api-keys".into(),
                Some(json!({"name": "Sync", "scope": "read"})),
            ),
            "revoke_api_key" => {
                let (id, _) = self.app.api_key(&self.owner, "read").await;
                (M::DELETE, format!("/v1/api-keys/{id}"), None)
            }
            "list_appointments" => (M::GET, "/v1/appointments".into(), None),
            "create_appointment" => (
                M::POST,
                "/v1/appointments".into(),
                Some(json!({
                "customer_id": self.customer, "technician_id": self.tech.user_id, "title": "Visit",
                "starts_at": self.starts, "ends_at": self.ends, "allow_overlap": true})),
            ),
            "get_appointment" => (
                M::GET,
                format!("/v1/appointments/{}", self.appointment),
                None,
            ),
            "update_appointment" => (
                M::PATCH,
                format!("/v1/appointments/{}", self.appointment),
                Some(json!({"title": "Renamed"})),
            ),
            "delete_appointment" => (
                M::DELETE,
                format!("/v1/appointments/{}", self.appointment().await),
                None,
            ),
            "change_status" => (
                M::POST,
                format!("/v1/appointments/{}/status", self.appointment().await),
                Some(json!({"status": "confirmed"})),
            ),
            "logout" => (M::POST, "/v1/auth/logout".into(), None),
            "me" => (M::GET, "/v1/me".into(), None),
            "rotate_calendar_feed" => (M::POST, "/v1/me/calendar-feed".into(), None),
            "revoke_calendar_feed" => (M::DELETE, "/v1/me/calendar-feed".into(), None),
            "google_status" => (M::GET, "/v1/integrations/google".into(), None),
            "connect_google" => (
                M::POST,
                "/v1/integrations/google/connect".into(),
                Some(json!({"send_email": false})),
            ),
            "confirm_google" => (
                M::POST,
                "/v1/integrations/google/confirm".into(),
                Some(json!({"confirmation": "not-a-confirmation"})),
            ),
            "sync_google" => (M::POST, "/v1/integrations/google/sync".into(), None),
            "disconnect_google" => (M::DELETE, "/v1/integrations/google".into(), None),
            "live_locations" => (M::GET, "/v1/locations/live".into(), None),
            "list_messages" => (M::GET, "/v1/messages".into(), None),
            "get_message" => (M::GET, format!("/v1/messages/{}", self.message), None),
            "send_message" => (
                M::POST,
                "/v1/messages".into(),
                Some(json!({"customer_id": self.customer, "channel": "sms", "body": "Hi"})),
            ),
            "upload_pings" => (
                M::POST,
                "/v1/pings".into(),
                Some(json!({"pings": [
                {"id": uuid::Uuid::new_v4(), "recorded_at": Utc::now() - Duration::seconds(5), "lat": 30.27, "lon": -97.74}]})),
            ),
            "list_shifts" => (M::GET, "/v1/shifts".into(), None),
            "get_shift" => (M::GET, format!("/v1/shifts/{}", self.shift), None),
            "shift_route" => (M::GET, format!("/v1/shifts/{}/route", self.shift), None),
            "clock_in" => (M::POST, "/v1/shifts/clock-in".into(), None),
            "clock_out" => (M::POST, "/v1/shifts/clock-out".into(), None),
            "close_shift" => {
                let someone = self.app.user_with_role(&self.owner, "technician").await;
                (
                    M::POST,
                    format!("/v1/shifts/{}/close", self.clocked_in(&someone).await),
                    None,
                )
            }
            "list_users" => (M::GET, "/v1/users".into(), None),
            "create_user" => (
                M::POST,
                "/v1/users".into(),
                Some(json!({"name": "New Tech", "email": fresh_email(), "role": "technician"})),
            ),
            "get_user" => (M::GET, format!("/v1/users/{}", self.tech.user_id), None),
            "update_user" => (
                M::PATCH,
                format!("/v1/users/{}", self.tech.user_id),
                Some(json!({"name": "A technician"})),
            ),
            "create_device" => (
                M::POST,
                format!("/v1/users/{}/devices", self.tech.user_id),
                Some(json!({"label": "Van phone"})),
            ),
            "list_devices" => (
                M::GET,
                format!("/v1/users/{}/devices", self.tech.user_id),
                None,
            ),
            "revoke_device" => {
                let device = self
                    .ok(
                        M::POST,
                        &format!("/v1/users/{}/devices", self.tech.user_id),
                        Some(json!({"label": "Spare phone"})),
                    )
                    .await;
                (
                    M::DELETE,
                    format!(
                        "/v1/users/{}/devices/{}",
                        self.tech.user_id,
                        Self::id(&device)
                    ),
                    None,
                )
            }
            "delete_user" => {
                let someone = self.app.user_with_role(&self.owner, "technician").await;
                (M::DELETE, format!("/v1/users/{}", someone.user_id), None)
            }
            other => {
                for (kind, collection) in [("customer", "customers"), ("prospect", "prospects")] {
                    let existing = if kind == "customer" {
                        &self.customer
                    } else {
                        &self.prospect
                    };
                    let one = format!("/v1/{collection}/{existing}");
                    let request = match other
                        .strip_suffix(kind)
                        .or_else(|| other.strip_suffix(collection))
                    {
                        Some("list_") => (M::GET, format!("/v1/{collection}"), None),
                        Some("create_") => (
                            M::POST,
                            format!("/v1/{collection}"),
                            Some(json!({"name": "New"})),
                        ),
                        Some("get_") => (M::GET, one, None),
                        Some("update_") => (M::PATCH, one, Some(json!({"name": "Tess Ortiz"}))),
                        Some("delete_") => (
                            M::DELETE,
                            format!("/v1/{collection}/{}", self.person(collection).await),
                            None,
                        ),
                        _ => match other.strip_suffix(&format!("{kind}_consent")) {
                            Some("get_") => (M::GET, format!("{one}/consent"), None),
                            Some("record_") => (
                                M::POST,
                                format!("{one}/consent"),
                                Some(
                                    json!({"channel": "email", "status": "opted_in", "source": "form"}),
                                ),
                            ),
                            _ if other == "convert_prospect" && kind == "prospect" => (
                                M::POST,
                                format!("/v1/prospects/{}/convert", self.person("prospects").await),
                                None,
                            ),
                            _ => continue,
                        },
                    };
                    return request;
                }
                panic!("{other}: add the request it is tried with to roles_matrix.rs");
            }
        }
    }
}

#[tokio::test]
async fn every_operation_answers_403_exactly_to_the_callers_its_documentation_leaves_out() {
    let world = World::new().await;
    let app = &world.app;
    let admin = app.user_with_role(&world.owner, "admin").await;
    let dispatcher = app.user_with_role(&world.owner, "dispatcher").await;
    let (_, read_key) = app.api_key(&world.owner, "read").await;
    let (_, write_key) = app.api_key(&world.owner, "write").await;
    let callers = [
        Caller {
            name: "owner",
            token: world.owner.access.clone(),
            user: Some(world.owner.clone()),
        },
        Caller {
            name: "admin",
            token: admin.access.clone(),
            user: Some(admin),
        },
        Caller {
            name: "dispatcher",
            token: dispatcher.access.clone(),
            user: Some(dispatcher),
        },
        Caller {
            name: "technician",
            token: world.tech.access.clone(),
            user: Some(world.tech.clone()),
        },
        Caller {
            name: "read key",
            token: read_key,
            user: None,
        },
        Caller {
            name: "write key",
            token: write_key,
            user: None,
        },
    ];

    let spec = serde_json::to_value(fieldcrm::openapi::spec()).unwrap();
    let mut tried = 0;
    let mut wrong = Vec::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let security = operation["security"].as_array();
            if security.is_none_or(Vec::is_empty)
                || security.is_some_and(|s| s.iter().any(|r| r.get("device_token").is_some()))
            {
                continue; // public, or a tracker's: nobody's role is asked
            }
            let id = operation["operationId"].as_str().unwrap();
            let who = allowed(id, operation["description"].as_str().unwrap_or_default());
            for caller in &callers {
                let may = match caller.name {
                    "read key" => who.read_key,
                    "write key" => who.write_key,
                    role => who.roles.contains(&role),
                };
                let (method, path, body) = world.request(id).await;
                let token = world.session(id, caller).await;
                let response = app.call(method.clone(), &path, &token, body).await;
                let status = response.status().as_u16();
                tried += 1;
                let fine = if may {
                    status != 401 && status != 403 && status < 500
                } else {
                    status == 403
                        && response.headers()["content-type"] == "application/problem+json"
                };
                if !fine {
                    let text = response.text().await.unwrap_or_default();
                    wrong.push(format!(
                        "{id} ({method} {path}) as {}: {status}, documented as {}: {text}",
                        caller.name,
                        if may { "allowed" } else { "refused" }
                    ));
                }
            }
        }
    }
    assert!(tried > 50 * callers.len(), "{tried} calls");
    assert!(
        wrong.is_empty(),
        "{} calls disagree with the roles lines:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Still signed in: nothing in the matrix ended the callers' sessions.
    for caller in &callers {
        assert_eq!(
            app.call(Method::GET, "/v1/me", &caller.token, None)
                .await
                .status(),
            200,
            "{}",
            caller.name
        );
    }
}
