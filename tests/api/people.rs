//! Customers and prospects: CRUD, conversion, paging, search, consent,
//! preconditions, idempotency, erasure.

use fieldcrm_test_support::{problem, rows_referring_to, spawn_app, Day, Signed, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn create(app: &TestApp, who: &Signed, collection: &str, body: Value) -> Value {
    let response = app
        .call(
            Method::POST,
            &format!("/v1/{collection}"),
            &who.access,
            Some(body),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_customer_is_created_read_changed_and_erased() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let created = app
        .call(
            Method::POST,
            "/v1/customers",
            &owner.access,
            Some(json!({
                "name": "Jordan Blake",
                "company": "Blake & Sons",
                "email": "Jordan@Example.com",
                "phone": "(512) 555-0123",
                "address": {"line1": "1200 Barton Springs Rd", "city": "Austin", "country": "us", "lat": 30.26, "lon": -97.76},
                "notes": "Gate code 4411.\nDog is friendly.",
                "tags": ["VIP", "north route", "vip"],
            })),
        )
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["etag"], "\"1\"");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = created.json().await.unwrap();
    assert_eq!(
        body["phone"], "+15125550123",
        "E.164 with the account's country"
    );
    assert_eq!(body["email"], "jordan@example.com");
    assert_eq!(body["address"]["country"], "US");
    assert_eq!(body["tags"], json!(["north route", "vip"]));
    assert_eq!(
        body["consent"],
        json!({"sms": null, "email": null}),
        "no consent until given"
    );
    assert_eq!(
        location,
        format!("/v1/customers/{}", body["id"].as_str().unwrap())
    );

    let read = app.call(Method::GET, &location, &owner.access, None).await;
    assert_eq!(read.headers()["etag"], "\"1\"");
    let read: Value = read.json().await.unwrap();
    assert_eq!(read, body);

    let changed = app
        .call(
            Method::PATCH,
            &location,
            &owner.access,
            Some(json!({"name": "Jordan B. Blake", "company": null, "address": null, "tags": []})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()["etag"], "\"2\"");
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["name"], "Jordan B. Blake");
    assert!(changed["company"].is_null() && changed["address"].is_null());
    assert_eq!(changed["tags"], json!([]));
    assert_eq!(changed["phone"], "+15125550123", "fields not given stay");
    assert_eq!(changed["notes"], body["notes"]);

    assert_eq!(
        app.call(Method::DELETE, &location, &owner.access, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.call(Method::GET, &location, &owner.access, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.call(Method::DELETE, &location, &owner.access, None)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn every_invalid_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let response = app
        .call(
            Method::POST,
            "/v1/customers",
            &owner.access,
            Some(json!({
                "name": " ",
                "company": "x".repeat(201),
                "email": "jordan@",
                "phone": "12",
                "address": {"line1": "", "lat": 91.0, "lon": 0.0, "country": "USA"},
                "notes": "n".repeat(5001),
                "tags": ["a,b"],
            })),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body = problem(response).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "company",
            "email",
            "phone",
            "address.line1",
            "address.country",
            "address.lat",
            "notes",
            "tags"
        ]
    );
    let list: Value = app
        .call(Method::GET, "/v1/customers", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));

    let id = create(&app, &owner, "customers", json!({"name": "Ann"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/customers/{id}");
    for (patch, field) in [
        (json!({"name": null}), "name"),
        (json!({"phone": "not a phone"}), "phone"),
        (
            json!({"address": {"line1": "1 Main", "lat": 10.0}}),
            "address.lon",
        ),
        (json!({"nickname": "A"}), "nickname"),
    ] {
        let response = app
            .call(Method::PATCH, &path, &owner.access, Some(patch.clone()))
            .await;
        assert_eq!(response.status(), 422, "{patch}");
        assert_eq!(
            problem(response).await["errors"][0]["field"],
            field,
            "{patch}"
        );
    }
    let unchanged: Value = app
        .call(Method::GET, &path, &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["version"], 1);
}

#[tokio::test]
async fn if_match_refuses_a_stale_write_with_412() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let id = create(&app, &owner, "customers", json!({"name": "Ann"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/customers/{id}");
    let patch = |etag: &'static str, name: &'static str| {
        app.authed(Method::PATCH, &path, &owner.access)
            .header("if-match", etag)
            .json(&json!({"name": name}))
            .send()
    };
    assert_eq!(patch("\"1\"", "Ann B").await.unwrap().status(), 200);
    let stale = patch("\"1\"", "Ann C").await.unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(problem(stale).await["code"], "precondition_failed");
    assert_eq!(
        patch("W/\"2\"", "Ann C").await.unwrap().status(),
        412,
        "weak tags never match"
    );
    assert_eq!(patch("*", "Ann D").await.unwrap().status(), 200);
    let current: Value = app
        .call(Method::GET, &path, &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["name"], "Ann D");
    assert_eq!(current["version"], 3);

    let delete_stale = app
        .authed(Method::DELETE, &path, &owner.access)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(delete_stale.status(), 412);
    let delete = app
        .authed(Method::DELETE, &path, &owner.access)
        .header("if-match", "\"3\"")
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_refuses_another_body() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let post = |key: &'static str, name: &'static str| {
        app.authed(Method::POST, "/v1/customers", &owner.access)
            .header("idempotency-key", key)
            .json(&json!({"name": name}))
            .send()
    };
    let first = post("create-ann-1", "Ann").await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let again = post("create-ann-1", "Ann").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.headers()["etag"], "\"1\"");
    assert_eq!(again.json::<Value>().await.unwrap(), first);

    let other_body = post("create-ann-1", "Bob").await.unwrap();
    assert_eq!(other_body.status(), 422);
    assert_eq!(problem(other_body).await["code"], "idempotency_key_reused");

    let list: Value = app
        .call(Method::GET, "/v1/customers", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "created once");

    // Keys belong to an account: another account's same key creates its own.
    let other = app.signup().await;
    let theirs = app
        .authed(Method::POST, "/v1/customers", &other.access)
        .header("idempotency-key", "create-ann-1")
        .json(&json!({"name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 201);
    assert!(theirs.headers().get("idempotency-replayed").is_none());

    let bad_key = app
        .authed(Method::POST, "/v1/customers", &owner.access)
        .header("idempotency-key", "")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 400);
}

#[tokio::test]
async fn a_prospect_converts_to_a_customer_keeping_its_id_and_history() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let prospect = create(
        &app,
        &owner,
        "prospects",
        json!({"name": "Lee", "phone": "+1 512 555 0188", "tags": ["lead"]}),
    )
    .await;
    let id = prospect["id"].as_str().unwrap();
    assert!(prospect["converted_at"].is_null());
    let consent = app
        .call(
            Method::POST,
            &format!("/v1/prospects/{id}/consent"),
            &owner.access,
            Some(json!({"channel": "sms", "status": "opted_in", "source": "form"})),
        )
        .await;
    assert_eq!(consent.status(), 201);
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v1/customers/{id}"),
            &owner.access,
            None
        )
        .await
        .status(),
        404
    );

    let converted = app
        .call(
            Method::POST,
            &format!("/v1/prospects/{id}/convert"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(converted.status(), 200);
    let customer: Value = converted.json().await.unwrap();
    assert_eq!(customer["id"], prospect["id"]);
    assert!(customer["converted_at"].is_string());
    assert_eq!(customer["tags"], json!(["lead"]));
    assert_eq!(customer["consent"]["sms"], "opted_in");

    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v1/prospects/{id}"),
            &owner.access,
            None
        )
        .await
        .status(),
        404
    );
    let history: Value = app
        .call(
            Method::GET,
            &format!("/v1/customers/{id}/consent"),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["history"].as_array().unwrap().len(), 1);
    let again = app
        .call(
            Method::POST,
            &format!("/v1/prospects/{id}/convert"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(again.status(), 409);
    let prospects: Value = app
        .call(Method::GET, "/v1/prospects", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(prospects["data"], json!([]));
}

#[tokio::test]
async fn consent_is_kept_as_history_and_reset_when_contact_details_change() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let person = create(
        &app,
        &owner,
        "customers",
        json!({"name": "Ann", "email": "ann@example.com"}),
    )
    .await;
    let id = person["id"].as_str().unwrap();
    let consent_path = format!("/v1/customers/{id}/consent");
    let record = |body: Value| app.call(Method::POST, &consent_path, &owner.access, Some(body));

    let no_phone =
        record(json!({"channel": "sms", "status": "opted_in", "source": "verbal"})).await;
    assert_eq!(no_phone.status(), 422, "no number to text");
    let by_service =
        record(json!({"channel": "email", "status": "opted_out", "source": "inbound_stop"})).await;
    assert_eq!(problem(by_service).await["errors"][0]["field"], "source");

    assert_eq!(
        record(json!({"channel": "email", "status": "opted_in", "source": "form"}))
            .await
            .status(),
        201
    );
    app.call(
        Method::PATCH,
        &format!("/v1/customers/{id}"),
        &owner.access,
        Some(json!({"phone": "+15125550199"})),
    )
    .await;
    let sms = record(json!({"channel": "sms", "status": "opted_in", "source": "verbal"})).await;
    assert_eq!(sms.status(), 201);
    let sms: Value = sms.json().await.unwrap();
    assert_eq!(
        sms["current"],
        json!({"sms": "opted_in", "email": "opted_in"})
    );
    assert_eq!(sms["event"]["by"], format!("user:{}", owner.user_id));

    // A new number: the consent given for the old one no longer holds.
    let changed: Value = app
        .call(
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            &owner.access,
            Some(json!({"phone": "+15125550100"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        changed["consent"],
        json!({"sms": null, "email": "opted_in"})
    );
    // Clearing the email address resets email consent too.
    let cleared: Value = app
        .call(
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            &owner.access,
            Some(json!({"email": null})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["consent"], json!({"sms": null, "email": null}));

    let view: Value = app
        .call(Method::GET, &consent_path, &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<(String, String, String)> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["channel"].as_str().unwrap().into(),
                e["status"].as_str().unwrap().into(),
                e["source"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("email", "opted_in", "form"),
        ("sms", "opted_in", "verbal"),
        ("sms", "reset", "contact_changed"),
        ("email", "reset", "contact_changed"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(history, expected);
}

async fn page_through(
    app: &TestApp,
    who: &Signed,
    first: &str,
    mut between_pages: impl FnMut(usize) -> Option<Value>,
) -> Vec<String> {
    let mut names = Vec::new();
    let mut path = first.to_owned();
    for page in 0.. {
        let body: Value = app
            .call(Method::GET, &path, &who.access, None)
            .await
            .json()
            .await
            .unwrap();
        names.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        if let Some(new) = between_pages(page) {
            create(app, who, "customers", new).await;
        }
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => break,
        }
    }
    names
}

#[tokio::test]
async fn paging_has_no_gaps_or_repeats_while_rows_are_added() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let originals = [
        "delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot",
    ];
    for name in originals {
        create(&app, &owner, "customers", json!({"name": name})).await;
    }
    for sort in ["created", "name", "updated"] {
        let mut added = 0;
        let seen = page_through(
            &app,
            &owner,
            &format!("/v1/customers?limit=3&sort={sort}"),
            |_| {
                added += 1;
                Some(json!({"name": format!("aaa-{sort}-{added}")}))
            },
        )
        .await;
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{sort}: a row came twice: {seen:?}"
        );
        for name in originals {
            assert!(
                seen.iter().any(|s| s == name),
                "{sort}: {name} was skipped: {seen:?}"
            );
        }
        if sort == "name" {
            let originals_seen: Vec<_> = seen
                .iter()
                .filter(|n| originals.contains(&n.as_str()))
                .cloned()
                .collect();
            assert_eq!(
                originals_seen,
                ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
            );
        }
    }
    let wrong_sort = app
        .call(Method::GET, "/v1/customers?limit=2", &owner.access, None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let cursor = wrong_sort["next_cursor"].as_str().unwrap();
    let mixed = app
        .call(
            Method::GET,
            &format!("/v1/customers?sort=name&cursor={cursor}"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(mixed.status(), 422, "a cursor belongs to its sort");
}

/// The same data and the same answers on SQLite and PostgreSQL: case folding
/// beyond ASCII, `%` and `_` taken literally, phone numbers however typed,
/// parts of words (PostgreSQL narrows by the account's trigram keys first),
/// and nothing of another account that holds the same words.
#[tokio::test]
async fn search_finds_the_same_people_on_every_backend() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let other = app.signup().await;
    create(
        &app,
        &other,
        "customers",
        json!({"name": "Ann O'Brien Nobody", "phone": "(512) 555-0123"}),
    )
    .await;
    for body in [
        json!({"name": "Zoë Ñandú", "company": "Café Ünïcorn"}),
        json!({"name": "Ann O'Brien", "email": "ann@example.com"}),
        json!({"name": "Bob", "company": "100% Clean"}),
        json!({"name": "Cy", "company": "Under_score Ltd", "phone": "(512) 555-0123"}),
        json!({"name": "Dee", "company": "Underscore Ltd"}),
    ] {
        create(&app, &owner, "customers", body).await;
    }
    for (q, expected) in [
        ("ZOË", vec!["Zoë Ñandú"]),
        ("ünïc", vec!["Zoë Ñandú"]),
        ("o'brien", vec!["Ann O'Brien"]),
        ("ANN@EXAMPLE", vec!["Ann O'Brien"]),
        ("100%", vec!["Bob"]),
        ("%", vec!["Bob"]),
        ("under_", vec!["Cy"]),
        ("underscore", vec!["Dee"]),
        ("512-555-0123", vec!["Cy"]),
        ("+15125550123", vec!["Cy"]),
        ("5550123", vec!["Cy"]),
        ("nobody", vec![]),
        ("ñandú", vec!["Zoë Ñandú"]),
        ("andú", vec!["Zoë Ñandú"]),
        ("é ün", vec!["Zoë Ñandú"]),
        ("n o'bri", vec!["Ann O'Brien"]),
        ("xample.co", vec!["Ann O'Brien"]),
        ("derscore l", vec!["Dee"]),
        ("an", vec!["Ann O'Brien", "Bob", "Zoë Ñandú"]),
    ] {
        let encoded: String = q.bytes().map(|b| format!("%{b:02X}")).collect();
        let body: Value = app
            .call(
                Method::GET,
                &format!("/v1/customers?sort=name&q={encoded}"),
                &owner.access,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "q={q}");
    }
}

#[tokio::test]
async fn lists_filter_by_tag_and_by_change_time() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    create(
        &app,
        &owner,
        "customers",
        json!({"name": "A", "tags": ["weekly"]}),
    )
    .await;
    let b = create(
        &app,
        &owner,
        "customers",
        json!({"name": "B", "tags": ["Weekly", "vip"]}),
    )
    .await;
    create(&app, &owner, "customers", json!({"name": "C"})).await;
    let names = |body: Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let weekly: Value = app
        .call(Method::GET, "/v1/customers?tag=WEEKLY", &owner.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(weekly), ["A", "B"]);
    // As the contract's pattern says: a filter names a stored tag, so a space
    // at either end is refused, not trimmed into a match.
    for padded in ["%20weekly", "weekly%C2%A0"] {
        let url = format!("/v1/customers?tag={padded}");
        let response = app.call(Method::GET, &url, &owner.access, None).await;
        assert_eq!(response.status(), 422, "{url}");
        assert_eq!(
            problem(response).await["errors"][0]["field"],
            "tag",
            "{url}"
        );
    }

    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.call(
        Method::PATCH,
        &format!("/v1/customers/{}", b["id"].as_str().unwrap()),
        &owner.access,
        Some(json!({"notes": "moved"})),
    )
    .await;
    let changed: Value = app
        .call(
            Method::GET,
            &format!("/v1/customers?updated_since={}", since.replace('+', "%2B")),
            &owner.access,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(changed), ["B"]);
    let bad = app
        .call(
            Method::GET,
            "/v1/customers?updated_since=yesterday",
            &owner.access,
            None,
        )
        .await;
    assert_eq!(problem(bad).await["errors"][0]["field"], "updated_since");
}

#[tokio::test]
async fn erasing_a_person_leaves_no_row_about_them() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let keep = create(
        &app,
        &owner,
        "customers",
        json!({"name": "Keep", "email": "keep@example.com", "tags": ["x"]}),
    )
    .await;
    let gone = create(&app, &owner, "customers", json!({"name": "Gone", "email": "gone@example.com", "phone": "+15125550100", "tags": ["x", "y"]})).await;
    for person in [&keep, &gone] {
        let id = person["id"].as_str().unwrap();
        for channel in ["sms", "email"] {
            let status = if channel == "sms" && person["phone"].is_null() {
                continue;
            } else {
                "opted_in"
            };
            let r = app
                .call(
                    Method::POST,
                    &format!("/v1/customers/{id}/consent"),
                    &owner.access,
                    Some(json!({"channel": channel, "status": status, "source": "form"})),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
    }
    let gone_id: uuid::Uuid = gone["id"].as_str().unwrap().parse().unwrap();
    let day = Day::ahead(30);
    let appointment: Value = app
        .call(
            Method::POST,
            "/v1/appointments",
            &owner.access,
            Some(json!({"customer_id": gone_id, "title": "Visit", "starts_at": day.at("15:00"), "ends_at": day.at("16:00")})),
        )
        .await
        .json()
        .await
        .unwrap();
    let appointment_id: uuid::Uuid = appointment["id"].as_str().unwrap().parse().unwrap();
    let held: i64 = rows_referring_to(&app, "appointment_id", appointment_id)
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert!(held >= 3, "status history and reminders exist: {held}");
    let keep_id: uuid::Uuid = keep["id"].as_str().unwrap().parse().unwrap();
    let before = rows_referring_to(&app, "person_id", gone_id);
    assert!(
        before.iter().filter(|(_, n)| *n > 0).count() >= 2,
        "tags and consent rows exist: {before:?}"
    );

    let response = app
        .call(
            Method::DELETE,
            &format!("/v1/customers/{gone_id}"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(response.status(), 204);
    for (table, n) in rows_referring_to(&app, "person_id", gone_id) {
        assert_eq!(n, 0, "{table} still holds rows of the erased person");
    }
    for (table, n) in rows_referring_to(&app, "appointment_id", appointment_id) {
        assert_eq!(
            n, 0,
            "{table} still holds rows of the erased person's appointment"
        );
    }
    let people_left: Vec<_> = rows_referring_to(&app, "id", gone_id)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(people_left.is_empty(), "{people_left:?}");
    let kept = rows_referring_to(&app, "person_id", keep_id);
    let count = |wanted: &str| -> i64 {
        kept.iter()
            .filter(|(table, _)| (table == "events") == (wanted == "events"))
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(
        count("rows"),
        2,
        "the other person's tag and consent are untouched"
    );
    assert!(count("events") > 0, "and so are the events about them");
}

#[tokio::test]
async fn who_may_read_and_change_people() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    create(&app, &owner, "customers", json!({"name": "Ann"})).await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let technician = app.user_with_role(&owner, "technician").await;
    let (_, read_key) = app.api_key(&owner, "read").await;
    let (_, write_key) = app.api_key(&owner, "write").await;

    let count = |body: Value| body["data"].as_array().unwrap().len();
    for token in [&dispatcher.access, &read_key, &write_key] {
        let list = app.call(Method::GET, "/v1/customers", token, None).await;
        assert_eq!(list.status(), 200);
        assert_eq!(count(list.json().await.unwrap()), 1);
    }
    // Technicians see only the customers of their appointments: none yet.
    let list = app
        .call(Method::GET, "/v1/customers", &technician.access, None)
        .await;
    assert_eq!(count(list.json().await.unwrap()), 0);

    for (token, allowed) in [
        (&dispatcher.access, true),
        (&write_key, true),
        (&read_key, false),
        (&technician.access, false),
    ] {
        let response = app
            .call(
                Method::POST,
                "/v1/customers",
                token,
                Some(json!({"name": "New"})),
            )
            .await;
        assert_eq!(response.status() == 201, allowed, "{}", response.status());
        if !allowed {
            assert_eq!(response.status(), 403);
        }
    }
    // Refused before the body is read: a technician learns nothing from validation.
    let invalid = app
        .call(
            Method::POST,
            "/v1/customers",
            &technician.access,
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(invalid.status(), 403);
}

/// After 24 hours a key is forgotten: the same key then starts a new request.
#[tokio::test]
async fn idempotency_keys_expire_after_a_day() {
    use diesel::prelude::*;
    use fieldcrm_db::schema::idempotency_keys;
    let app = spawn_app().await;
    let owner = app.signup().await;
    let post = |name: &'static str| {
        app.authed(Method::POST, "/v1/customers", &owner.access)
            .header("idempotency-key", "k-1")
            .json(&json!({"name": name}))
            .send()
    };
    assert_eq!(post("Ann").await.unwrap().status(), 201);
    assert_eq!(post("Bob").await.unwrap().status(), 422);
    {
        let day_ago = fieldcrm_db::Ts::from(chrono::Utc::now() - chrono::Duration::hours(25));
        let mut conn = app.pool.get().unwrap();
        diesel::update(idempotency_keys::table)
            .set(idempotency_keys::created_at.eq(day_ago))
            .execute(&mut *conn)
            .unwrap();
    }
    let fresh = post("Bob").await.unwrap();
    assert_eq!(fresh.status(), 201);
    assert!(fresh.headers().get("idempotency-replayed").is_none());
}

#[tokio::test]
async fn national_phone_numbers_follow_the_accounts_current_country() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let (_, write_key) = app.api_key(&owner, "write").await;
    let phone_of = |body: Value| body["phone"].as_str().unwrap_or_default().to_owned();

    let us = create(
        &app,
        &owner,
        "customers",
        json!({"name": "Ann", "phone": "(512) 555-0188"}),
    )
    .await;
    assert_eq!(phone_of(us), "+15125550188");

    let changed = app
        .call(
            Method::PATCH,
            "/v1/account",
            &owner.access,
            Some(json!({"default_country": "GB"})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    // The next request reads the new country, with a token or with a key.
    for token in [&owner.access, &write_key] {
        let created = app
            .call(
                Method::POST,
                "/v1/customers",
                token,
                Some(json!({"name": "Bea", "phone": "020 7946 0958"})),
            )
            .await;
        assert_eq!(created.status(), 201);
        assert_eq!(phone_of(created.json().await.unwrap()), "+442079460958");
    }
}
