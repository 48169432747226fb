//! Each role's and each key scope's allowed and refused calls.

use fieldcrm_test_support::{problem, spawn_app, Signed, TestApp};
use reqwest::Method;
use serde_json::json;

/// What a caller tries, and whether owners, admins, dispatchers, technicians,
/// read keys and write keys may.
struct Case {
    method: Method,
    path: &'static str,
    body: Option<serde_json::Value>,
    allowed: [bool; 6],
}

fn cases() -> Vec<Case> {
    //            owner admin dispatcher technician read-key write-key
    vec![
        Case {
            method: Method::GET,
            path: "/v1/me",
            body: None,
            allowed: [true, true, true, true, true, true],
        },
        Case {
            method: Method::GET,
            path: "/v1/users",
            body: None,
            allowed: [true, true, false, false, false, false],
        },
        Case {
            method: Method::POST,
            path: "/v1/users",
            body: Some(json!({"name": "New Tech", "email": "{email}", "role": "technician"})),
            allowed: [true, true, false, false, false, false],
        },
        Case {
            method: Method::GET,
            path: "/v1/account",
            body: None,
            allowed: [true, true, true, true, true, true],
        },
        Case {
            method: Method::PATCH,
            path: "/v1/account",
            body: Some(json!({"name": "Renamed"})),
            allowed: [true, true, false, false, false, false],
        },
        Case {
            method: Method::GET,
            path: "/v1/api-keys",
            body: None,
            allowed: [true, true, false, false, false, false],
        },
        Case {
            method: Method::POST,
            path: "/v1/api-keys",
            body: Some(json!({"name": "Sync", "scope": "read"})),
            allowed: [true, true, false, false, false, false],
        },
        // `{technician}` is the technician caller: theirs to manage.
        Case {
            method: Method::GET,
            path: "/v1/users/{technician}/devices",
            body: None,
            allowed: [true, true, false, true, false, false],
        },
        Case {
            method: Method::POST,
            path: "/v1/users/{technician}/devices",
            body: Some(json!({"label": "Van phone"})),
            allowed: [true, true, false, true, false, false],
        },
    ]
}

/// The callers, and the technician's user id.
async fn callers(app: &TestApp) -> (Vec<(&'static str, String)>, String) {
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    let dispatcher = app.user_with_role(&owner, "dispatcher").await;
    let technician = app.user_with_role(&owner, "technician").await;
    let (_, read_key) = app.api_key(&owner, "read").await;
    let (_, write_key) = app.api_key(&owner, "write").await;
    let callers = vec![
        ("owner", owner.access),
        ("admin", admin.access),
        ("dispatcher", dispatcher.access),
        ("technician", technician.access),
        ("read key", read_key),
        ("write key", write_key),
    ];
    (callers, technician.user_id)
}

#[tokio::test]
async fn every_role_and_scope_gets_what_the_permission_table_says() {
    let app = spawn_app().await;
    let (callers, technician) = callers(&app).await;
    for case in cases() {
        let path = case.path.replace("{technician}", &technician);
        for ((who, token), allowed) in callers.iter().zip(case.allowed) {
            let mut request = app.authed(case.method.clone(), &path, token);
            if let Some(body) = &case.body {
                let email = format!("u{}@example.com", uuid::Uuid::new_v4().simple());
                let body = body.to_string().replace("{email}", &email);
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            if allowed {
                assert!(
                    status.is_success(),
                    "{who} {} {}: {status}",
                    case.method,
                    case.path
                );
            } else {
                assert_eq!(status, 403, "{who} {} {}", case.method, case.path);
                let body = problem(response).await;
                assert!(
                    body["detail"].as_str().unwrap().contains("Roles:"),
                    "{body}"
                );
            }
        }
    }
}

async fn owner_and_admin(app: &TestApp) -> (Signed, Signed) {
    let owner = app.signup().await;
    let admin = app.user_with_role(&owner, "admin").await;
    (owner, admin)
}

#[tokio::test]
async fn only_an_owner_makes_changes_or_removes_an_owner() {
    let app = spawn_app().await;
    let (owner, admin) = owner_and_admin(&app).await;
    let admin_path = format!("/v1/users/{}", admin.user_id);
    let owner_path = format!("/v1/users/{}", owner.user_id);
    let make_owner = json!({"name": "X", "email": "x@example.com", "role": "owner"});
    let promote = json!({"role": "owner"});

    let refused = [
        (Method::POST, "/v1/users", Some(make_owner)),
        (Method::PATCH, admin_path.as_str(), Some(promote.clone())),
        (Method::DELETE, owner_path.as_str(), None),
    ];
    for (method, path, body) in refused {
        let response = app.call(method.clone(), path, &admin.access, body).await;
        assert_eq!(response.status(), 403, "admin {method} {path}");
    }

    let by_owner = app
        .call(Method::PATCH, &admin_path, &owner.access, Some(promote))
        .await;
    assert_eq!(by_owner.status(), 200);
    let me: serde_json::Value = app
        .call(Method::GET, "/v1/me", &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["role"], "owner",
        "a role change applies to the next request"
    );
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let path = format!("/v1/users/{}", owner.user_id);
    let demote = app
        .call(
            Method::PATCH,
            &path,
            &owner.access,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(demote.status(), 409);
    problem(demote).await;
    let remove = app.call(Method::DELETE, &path, &owner.access, None).await;
    assert_eq!(remove.status(), 409);
    let me = app.call(Method::GET, "/v1/me", &owner.access, None).await;
    assert_eq!(me.status(), 200, "nothing changed");

    // With a second owner, the first may step down.
    let second = app.user_with_role(&owner, "owner").await;
    let demote = app
        .call(
            Method::PATCH,
            &path,
            &second.access,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(demote.status(), 200);
}

/// Owners of the account as stored.
fn owners_in_database(app: &TestApp, account_id: &str) -> i64 {
    use diesel::prelude::*;
    use fieldcrm_db::schema::users;
    let account: fieldcrm_db::Id<fieldcrm_db::accounts::Account> =
        fieldcrm_db::Id::from_uuid(account_id.parse().unwrap());
    users::table
        .filter(users::account_id.eq(account))
        .filter(users::role.eq("owner"))
        .count()
        .get_result(&mut *app.pool.get().unwrap())
        .unwrap()
}

/// Owners demoting and removing each other at the same moment: however the
/// requests interleave, the account keeps an owner (without one it could never
/// be exported or deleted again).
#[tokio::test]
async fn owners_removing_each_other_at_once_leave_an_owner() {
    let app = spawn_app().await;
    for round in 0..10 {
        let first = app.signup().await;
        let mut owners = vec![first.clone()];
        // Two owners most rounds (the likeliest to overlap), four in some.
        for _ in 0..if round % 3 == 2 { 3 } else { 1 } {
            owners.push(app.user_with_role(&first, "owner").await);
        }
        // Each owner acts on the next one, round the ring.
        let changes = owners.iter().enumerate().map(|(n, by)| {
            let target = &owners[(n + 1) % owners.len()];
            let path = format!("/v1/users/{}", target.user_id);
            let (method, body) = if (n + round) % 2 == 0 {
                (Method::PATCH, Some(json!({"role": "admin"})))
            } else {
                (Method::DELETE, None)
            };
            let app = &app;
            async move {
                app.call(method, &path, &by.access, body)
                    .await
                    .status()
                    .as_u16()
            }
        });
        let statuses = futures_util::future::join_all(changes).await;
        assert!(
            statuses
                .iter()
                .all(|s| [200, 204, 401, 403, 409].contains(s)),
            "{statuses:?}"
        );
        assert!(
            owners_in_database(&app, &first.account_id) >= 1,
            "round {round}: the account lost its last owner ({statuses:?})"
        );
    }
}

#[tokio::test]
async fn users_are_listed_with_cursor_paging() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    for _ in 0..4 {
        app.user_with_role(&owner, "technician").await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/users?limit=2".to_owned();
    loop {
        let page: serde_json::Value = app
            .call(Method::GET, &path, &owner.access, None)
            .await
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "no user twice");

    for bad in [
        "/v1/users?limit=0",
        "/v1/users?limit=201",
        "/v1/users?cursor=%21%21",
    ] {
        let response = app
            .authed(Method::GET, bad, &owner.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
        problem(response).await;
    }
    let response = app
        .authed(Method::GET, "/v1/users?limit=many", &owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    problem(response).await;
}

#[tokio::test]
async fn adding_a_user_is_safe_to_retry_with_an_idempotency_key() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let post = || {
        app.authed(Method::POST, "/v1/users", &owner.access)
            .header("idempotency-key", "add-sam")
            .json(&json!({"name": "Sam", "email": "sam@example.com", "role": "technician"}))
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 201);
    let first_body: serde_json::Value = first.json().await.unwrap();
    let again = post().await.unwrap();
    assert_eq!(
        again.status(),
        201,
        "not 409 for the taken email: the first answer again"
    );
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(
        again.headers()["location"].to_str().unwrap(),
        format!("/v1/users/{}", first_body["id"].as_str().unwrap())
    );
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first_body);
}
