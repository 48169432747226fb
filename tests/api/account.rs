//! The account's settings, and that each one changes what the API does.

use chrono::Utc;
use fieldcrm_test_support::{problem, spawn_app, Day};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn owners_and_admins_change_settings_and_everyone_reads_them() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let tech = app.user_with_role(&owner, "technician").await;

    let account: Value = app
        .call(Method::GET, "/v1/account", &tech.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["time_zone"], "America/Chicago");
    assert_eq!(account["ping_accuracy_limit_m"], 100.0);
    assert_eq!(account["max_shift_hours"], 16);
    assert_eq!(account["ping_retention_days"], 90);
    assert_eq!(account["default_reminders"][0]["channel"], "email");

    let refused = app
        .call(
            Method::PATCH,
            "/v1/account",
            &dispatcher.access,
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(refused.status(), 403);
    let changed = app
        .call(
            Method::PATCH,
            "/v1/account",
            &admin.access,
            Some(json!({"name": "Acme HVAC", "ping_accuracy_limit_m": 30.0, "default_reminders": [{"channel": "sms", "minutes_before": 30}]})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["name"], "Acme HVAC");
    assert_eq!(
        changed["default_reminders"],
        json!([{"channel": "sms", "minutes_before": 30}])
    );
    assert_eq!(
        changed["time_zone"], "America/Chicago",
        "fields not given stay"
    );

    let invalid = app
        .call(
            Method::PATCH,
            "/v1/account",
            &owner.access,
            Some(json!({"time_zone": "Mars/Base", "max_shift_hours": 48, "ping_retention_days": 0, "default_reminders": [{"channel": "fax", "minutes_before": 1}]})),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let fields: Vec<String> = problem(invalid).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        [
            "time_zone",
            "max_shift_hours",
            "ping_retention_days",
            "default_reminders[0]"
        ]
    );

    // The new accuracy limit applies to the next pings.
    let shift: Value = app
        .call(Method::POST, "/v1/shifts/clock-in", &tech.access, None)
        .await
        .json()
        .await
        .unwrap();
    let at: chrono::DateTime<Utc> = shift["clock_in_at"].as_str().unwrap().parse().unwrap();
    let result: Value = app
        .call(
            Method::POST,
            "/v1/pings",
            &tech.access,
            Some(json!({"pings": [
                {"id": uuid::Uuid::new_v4(), "recorded_at": at, "lat": 30.0, "lon": -97.0, "accuracy_m": 50.0},
                {"id": uuid::Uuid::new_v4(), "recorded_at": at, "lat": 30.0, "lon": -97.0, "accuracy_m": 20.0},
            ]})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(result["accepted"], 1);
    assert_eq!(result["rejected"][0]["reason"], "low_accuracy");

    // And new appointments take the new default reminders.
    let customer: Value = app
        .call(
            Method::POST,
            "/v1/customers",
            &owner.access,
            Some(json!({"name": "Ann"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let day = Day::ahead(30);
    let booked: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({"customer_id": customer["id"], "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00")})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(booked["reminders"].as_array().unwrap().len(), 1);
    assert_eq!(booked["reminders"][0]["due_at"], day.at("14:30"));
}

/// `DELETE /v1/account` is no way to test passwords: the account's name is
/// checked first, so a wrong name answers alike whatever the password, and
/// wrong passwords count with failed sign-ins, so guessing stops at the limit.
#[tokio::test]
async fn deleting_the_account_does_not_let_a_session_guess_the_password() {
    let app = fieldcrm_test_support::spawn_app_with(|s| s.login_failures_per_ip = 1000).await;
    let owner = app.signup().await;
    let delete = |body: Value| app.call(Method::DELETE, "/v1/account", &owner.access, Some(body));

    let right_password = problem(
        delete(json!({"password": fieldcrm_test_support::PASSWORD, "confirm": "Not the name"}))
            .await,
    )
    .await;
    let wrong_password = problem(
        delete(json!({"password": "a guess of a password", "confirm": "Not the name"})).await,
    )
    .await;
    assert_eq!(right_password["status"], 422, "{right_password}");
    assert_eq!(right_password, wrong_password, "the name decides first");

    let mut statuses = Vec::new();
    for n in 0..6 {
        let response = delete(
            json!({"password": format!("guess number {n} of many"), "confirm": "Acme Plumbing"}),
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    assert_eq!(
        app.login(&owner.email, fieldcrm_test_support::PASSWORD)
            .await
            .status(),
        429,
        "the guesses count with sign-ins from the same address"
    );
    let me = app.call(Method::GET, "/v1/me", &owner.access, None).await;
    assert_eq!(me.status(), 200, "nothing was deleted");
}
