//! What the server writes to its log: a full scenario run against the real
//! binary at debug level, its output captured, then searched for every secret
//! and every piece of personal data the scenario handed it.

use std::process::Command;
use std::time::{Duration, Instant};

use fieldcrm_test_support::{became_ready, ServerProcess, SmtpStandIn, TestDatabase};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::messages::{twilio, AUTH_TOKEN as TWILIO_AUTH_TOKEN, FROM, MAIL_TOKEN, MAIL_USER, SID};

const JWT_SECRET: &str = "jwt-signing-secret-that-is-long-enough-0123";
const OWNER_EMAIL: &str = "dana.reyes@acme-logs.example";
const OWNER_PASSWORD: &str = "owner password 5f1c9e";
const WRONG_PASSWORD: &str = "guessed password 77ab01";
const TECH_EMAIL: &str = "tomas.tech@acme-logs.example";
const TECH_PASSWORD: &str = "technician password 90d3";
const CUSTOMER_NAME: &str = "Philippa Quixote";
const CUSTOMER_EMAIL: &str = "philippa.q@customers.example";
const CUSTOMER_PHONE: &str = "+1 512 555 0187";
const CUSTOMER_PHONE_E164: &str = "+15125550187";
const STREET: &str = "4417 Larkspur Lane";
/// Where the technician's phone was before the shift.
const OFF_SHIFT_LAT: &str = "30.4187613";
const OFF_SHIFT_LON: &str = "-97.6931846";

async fn start(db: &TestDatabase, twilio: &str, smtp_port: u16) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fieldcrm"));
    command
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("FIELDCRM_LOG_LEVEL", "debug")
        .env("FIELDCRM_JWT_SECRET", JWT_SECRET)
        .env("FIELDCRM_JOB_POLL_INTERVAL_MS", "50")
        .env("FIELDCRM_TWILIO_API_BASE_URL", twilio)
        .env("FIELDCRM_TWILIO_ACCOUNT_SID", SID)
        .env("FIELDCRM_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN)
        .env("FIELDCRM_TWILIO_FROM", FROM)
        .env("FIELDCRM_SMTP_HOST", "127.0.0.1")
        .env("FIELDCRM_SMTP_PORT", smtp_port.to_string())
        .env("FIELDCRM_SMTP_TLS", "none")
        .env("FIELDCRM_SMTP_USERNAME", MAIL_USER)
        .env("FIELDCRM_SMTP_OAUTH2_TOKEN", MAIL_TOKEN)
        .env("FIELDCRM_EMAIL_FROM", MAIL_USER);
    let server = ServerProcess::start(command)
        .await
        .expect("start the server");
    assert!(
        became_ready(&server.base).await,
        "the server did not get ready"
    );
    server
}

struct Api {
    client: Client,
    base: String,
}

impl Api {
    async fn c(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.client, &self.base, method, path, token, body).await
    }
}

async fn call(
    client: &Client,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn no_secret_or_personal_data_reaches_the_logs() {
    let twilio = twilio().await;
    let smtp = SmtpStandIn::start(MAIL_USER, MAIL_TOKEN).await;
    let db = TestDatabase::create();
    let server = start(&db, &twilio.uri(), smtp.port).await;
    let base = server.base.clone();
    let client = Client::new();
    let api = Api {
        client: client.clone(),
        base: base.clone(),
    };

    let (status, signup) = api
        .c(
            Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({"account_name": "Acme Logs", "name": "Dana Reyes",
                    "email": OWNER_EMAIL, "password": OWNER_PASSWORD})),
        )
        .await;
    assert_eq!(status, 201, "{signup}");
    let (status, _) = api
        .c(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": OWNER_EMAIL, "password": WRONG_PASSWORD})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, login) = api
        .c(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, refreshed) = api
        .c(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": login["refresh_token"]})),
        )
        .await;
    assert_eq!(status, 200);
    // The reuse below ends this session with its access tokens; the rest of
    // the scenario goes on in the session the signup started.
    let access = signup["access_token"].as_str().unwrap().to_owned();
    let token = Some(access.as_str());
    // A refresh token used twice: the reuse is refused and logged as an event.
    let (status, _) = api
        .c(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": login["refresh_token"]})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = api
        .c(
            Method::PATCH,
            "/v1/account",
            token,
            Some(json!({"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"})),
        )
        .await;
    assert_eq!(status, 200);

    let (status, key) = api
        .c(
            Method::POST,
            "/v1/api-keys",
            token,
            Some(json!({"name": "Zapier", "scope": "read"})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let api_key = key["secret"].as_str().unwrap().to_owned();
    let (status, _) = api
        .c(Method::GET, "/v1/customers", Some(&api_key), None)
        .await;
    assert_eq!(status, 200);

    let (status, tech) = api
        .c(
            Method::POST,
            "/v1/users",
            token,
            Some(json!({"name": "Tomas Tech", "email": TECH_EMAIL,
                    "password": TECH_PASSWORD, "role": "technician"})),
        )
        .await;
    assert_eq!(status, 201, "{tech}");

    let (status, customer) = api
        .c(
            Method::POST,
            "/v1/customers",
            token,
            Some(
                json!({"name": CUSTOMER_NAME, "email": CUSTOMER_EMAIL, "phone": CUSTOMER_PHONE,
                    "address": {"line1": STREET, "city": "Austin", "postal_code": "78701"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{customer}");
    let id = customer["id"].as_str().unwrap().to_owned();
    // Invalid input echoes nothing personal into the log either.
    let (status, _) = api
        .c(
            Method::POST,
            "/v1/customers",
            token,
            Some(json!({"name": CUSTOMER_NAME, "email": "philippa.q@", "phone": "+1 512 555 018"})),
        )
        .await;
    assert_eq!(status, 422);
    for q in [CUSTOMER_PHONE_E164, CUSTOMER_EMAIL, "Quixote"] {
        let path = format!("/v1/customers?q={}", urlencoding(q));
        let (status, found) = api.c(Method::GET, &path, token, None).await;
        assert_eq!(status, 200);
        assert_eq!(found["data"].as_array().unwrap().len(), 1, "{q}");
    }
    for channel in ["sms", "email"] {
        let (status, _) = api
            .c(
                Method::POST,
                &format!("/v1/customers/{id}/consent"),
                token,
                Some(json!({"channel": channel, "status": "opted_in", "source": "form"})),
            )
            .await;
        assert_eq!(status, 201);
    }
    for body in [
        json!({"customer_id": id, "channel": "sms", "body": "On our way"}),
        json!({"customer_id": id, "channel": "email", "subject": "Invoice", "body": "Thanks"}),
    ] {
        let (status, sent) = api.c(Method::POST, "/v1/messages", token, Some(body)).await;
        assert_eq!(status, 202, "{sent}");
    }

    // The background worker inside `serve` sends both.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = api
            .c(Method::GET, "/v1/messages?status=sent", token, None)
            .await;
        if page["data"].as_array().map_or(0, Vec::len) == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "messages not sent: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = smtp.received();
    let link = mail[0].header("List-Unsubscribe").unwrap();
    let link = link
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let unsubscribe_token = link.split("token=").nth(1).unwrap().to_owned();
    let response = client
        .post(&link)
        .form(&[("List-Unsubscribe", "One-Click")]);
    assert_eq!(response.send().await.unwrap().status(), 200);

    // A webhook with a forged signature carrying the customer's number.
    let response = client
        .post(format!("{base}/v1/webhooks/twilio/inbound"))
        .header("X-Twilio-Signature", "forged")
        .form(&[
            ("From", CUSTOMER_PHONE_E164),
            ("Body", "STOP"),
            ("AccountSid", SID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A malformed JSON body that holds personal data.
    let response = client
        .post(format!("{base}/v1/customers"))
        .bearer_auth(&access)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"name\": \"{CUSTOMER_NAME}\", \"email\": \"{CUSTOMER_EMAIL}\""
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (status, tech_login) = api
        .c(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": TECH_EMAIL, "password": TECH_PASSWORD})),
        )
        .await;
    assert_eq!(status, 200);
    let tech_token = tech_login["access_token"].as_str().unwrap().to_owned();
    let (status, _) = api
        .c(
            Method::POST,
            "/v1/shifts/clock-in",
            Some(&tech_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201);
    // The technician's phone: its token travels in the path and in headers,
    // and its positions outside the shift must leave no trace.
    let (status, device) = api
        .c(
            Method::POST,
            &format!("/v1/users/{}/devices", tech["id"].as_str().unwrap()),
            token,
            Some(json!({"label": "Tomas' phone"})),
        )
        .await;
    assert_eq!(status, 201, "{device}");
    let device_token = device["token"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    for (auth, path, body) in [
        (
            None,
            format!("/v1/ingest/osmand/{device_token}"),
            format!("id=tomas&lat=30.2672&lon=-97.7431&timestamp={now}&accuracy=5"),
        ),
        (
            None,
            format!("/v1/ingest/osmand/{device_token}"),
            format!(
                "id=tomas&lat={OFF_SHIFT_LAT}&lon={OFF_SHIFT_LON}&timestamp={}&accuracy=5",
                now - 3 * 3600
            ),
        ),
        (
            Some(format!("Bearer {device_token}")),
            "/v1/ingest/owntracks".to_owned(),
            format!(
                r#"{{"_type":"location","lat":{OFF_SHIFT_LAT},"lon":{OFF_SHIFT_LON},"tst":{},"acc":5}}"#,
                now - 3 * 3600 + 60
            ),
        ),
        (
            None,
            format!("/v1/ingest/osmand/{device_token}?lat={OFF_SHIFT_LAT}&lon={OFF_SHIFT_LON}&timestamp=bogus"),
            String::new(),
        ),
    ] {
        let mut request = client.post(format!("{base}{path}")).body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        assert_eq!(request.send().await.unwrap().status(), 200, "{path}");
    }
    // A device token where it is no credential, and a token nobody issued.
    let (status, _) = api
        .c(Method::GET, "/v1/me", Some(&device_token), None)
        .await;
    assert_eq!(status, 401);
    let forged = format!(
        "fcrm_dev_{}",
        &device_token[9..].chars().rev().collect::<String>()
    );
    let response = client
        .post(format!("{base}/v1/ingest/osmand/{forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, _) = api
        .c(Method::POST, "/v1/auth/logout", Some(&tech_token), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = api.c(Method::GET, "/v1/account/export", token, None).await;
    assert_eq!(status, 200);

    let logs = server.stop();
    let lines = logs.lines().count();
    assert!(
        logs.matches("request finished").count() >= 20,
        "the log holds the requests ({lines} lines):\n{logs}"
    );
    let secrets = [
        ("owner password", OWNER_PASSWORD.to_owned()),
        ("wrong password", WRONG_PASSWORD.to_owned()),
        ("technician password", TECH_PASSWORD.to_owned()),
        ("access token", access.clone()),
        ("technician's access token", tech_token),
        (
            "refresh token",
            login["refresh_token"].as_str().unwrap().to_owned(),
        ),
        (
            "new refresh token",
            refreshed["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("API key", api_key.clone()),
        (
            "API key's secret part",
            api_key[api_key.len() - 16..].to_owned(),
        ),
        ("JWT secret", JWT_SECRET.to_owned()),
        ("device token", device_token.clone()),
        ("device token's secret part", device_token[9..25].to_owned()),
        ("forged device token", forged[9..25].to_owned()),
        ("off-shift latitude", OFF_SHIFT_LAT.to_owned()),
        ("off-shift longitude", OFF_SHIFT_LON.to_owned()),
        ("Twilio auth token", TWILIO_AUTH_TOKEN.to_owned()),
        ("SMTP OAuth token", MAIL_TOKEN.to_owned()),
        ("unsubscribe token", unsubscribe_token),
        ("owner's email", OWNER_EMAIL.to_owned()),
        ("technician's email", TECH_EMAIL.to_owned()),
        ("customer's email", CUSTOMER_EMAIL.to_owned()),
        ("customer's email, local part", "philippa.q".to_owned()),
        ("customer's phone", CUSTOMER_PHONE.to_owned()),
        ("customer's phone, E.164", CUSTOMER_PHONE_E164.to_owned()),
        ("customer's phone, digits", "5125550187".to_owned()),
        ("customer's phone, as typed wrongly", "555 018".to_owned()),
        ("customer's name", "Quixote".to_owned()),
        ("owner's name", "Reyes".to_owned()),
        ("customer's street", STREET.to_owned()),
    ];
    let leaks: Vec<String> = secrets
        .iter()
        .filter_map(|(what, secret)| {
            logs.lines()
                .find(|line| line.contains(secret.as_str()))
                .map(|line| format!("{what} in: {line}"))
        })
        .collect();
    assert!(leaks.is_empty(), "leaked:\n{}", leaks.join("\n"));
}

fn urlencoding(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap()[1..].to_owned()
}
