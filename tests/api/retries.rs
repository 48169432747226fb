//! `Idempotency-Key` under pressure: a client that fires the same creating
//! request several times at once, and a key sent again to another operation.

use fieldcrm_test_support::{problem, spawn_app, Signed, TestApp};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

async fn post(
    app: &TestApp,
    who: &Signed,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.authed(Method::POST, path, &who.access)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn names(app: &TestApp, who: &Signed, collection: &str) -> Vec<String> {
    let response = app
        .call(Method::GET, &format!("/v1/{collection}"), &who.access, None)
        .await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Eight copies of one create, sent at once with one key: never a 5xx, one
/// customer, and every 201 names it. The others may be told to retry (409);
/// a retry afterwards gets the first answer again. Thirty rounds, since how
/// the copies interleave differs from one to the next (with the key taken
/// outside the transaction, about one round in nine made two on SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_creates_with_one_key_make_one_customer() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let mut expected = Vec::new();
    for round in 0..30 {
        let key = uuid::Uuid::new_v4().to_string();
        let name = format!("Carla Concurrent {round:02}");
        let body = json!({"name": name, "phone": "+1 512 555 0180"});
        // Eight open connections first, so that the eight copies leave together.
        let warm =
            join_all((0..8).map(|_| app.call(Method::GET, "/v1/me", &owner.access, None))).await;
        assert!(warm.iter().all(|r| r.status() == 200));

        let answers =
            join_all((0..8).map(|_| post(&app, &owner, "/v1/customers", &key, &body))).await;
        let mut created = Vec::new();
        for answer in answers {
            match answer.status().as_u16() {
                201 => {
                    let customer: Value = answer.json().await.unwrap();
                    created.push(customer["id"].as_str().unwrap().to_owned());
                }
                409 => {
                    problem(answer).await;
                }
                other => panic!("{other}: {}", answer.text().await.unwrap()),
            }
        }
        assert!(!created.is_empty(), "one of them created the customer");
        assert!(
            created.iter().all(|id| *id == created[0]),
            "every 201 names one customer: {created:?}"
        );
        let retry = post(&app, &owner, "/v1/customers", &key, &body).await;
        assert_eq!(retry.status(), 201);
        assert_eq!(retry.headers()["idempotency-replayed"], "true");
        assert_eq!(
            retry.json::<Value>().await.unwrap()["id"],
            created[0].as_str()
        );
        expected.push(name);
    }
    let mut made = names(&app, &owner, "customers").await;
    made.sort();
    assert_eq!(made, expected, "one customer a round");
}

/// A key names one request: sent to another operation, even with the same
/// body, it is refused and that operation does nothing.
#[tokio::test]
async fn a_key_used_by_one_operation_is_refused_by_another() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"name": "Paulo Prospect"});
    assert_eq!(
        post(&app, &owner, "/v1/customers", &key, &body)
            .await
            .status(),
        201
    );

    let elsewhere = post(&app, &owner, "/v1/prospects", &key, &body).await;
    assert_eq!(elsewhere.status(), 422);
    assert_eq!(problem(elsewhere).await["code"], "idempotency_key_reused");
    assert!(
        names(&app, &owner, "prospects").await.is_empty(),
        "no prospect made"
    );
    assert_eq!(names(&app, &owner, "customers").await, ["Paulo Prospect"]);
}

/// A replay answers the record as it is now, where it is now: a prospect
/// converted since is no longer at `/v1/prospects`, so its create's replay
/// is 404 there, not a customer.
#[tokio::test]
async fn a_prospects_create_replayed_after_its_conversion_is_404() {
    let app = spawn_app().await;
    let owner = app.signup().await;
    let body = json!({"name": "Pia Prospect"});
    let created = post(&app, &owner, "/v1/prospects", "pia-1", &body).await;
    assert_eq!(created.status(), 201);
    let prospect: Value = created.json().await.unwrap();
    let id = prospect["id"].as_str().unwrap();
    let converted = app
        .call(
            Method::POST,
            &format!("/v1/prospects/{id}/convert"),
            &owner.access,
            None,
        )
        .await;
    assert_eq!(converted.status(), 200);
    let replay = post(&app, &owner, "/v1/prospects", "pia-1", &body).await;
    assert_eq!(replay.status(), 404);
    problem(replay).await;
}
