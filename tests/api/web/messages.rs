//! The message log page.

use serde_json::json;

use super::*;
use crate::messages::{app_with, customer, message, owner, queued, twilio};

#[tokio::test]
async fn the_log_shows_each_message_with_its_delivery_status_and_filters_by_it() {
    let twilio = twilio().await;
    let app = app_with(&twilio, None, 3).await;
    let owner = owner(&app).await;
    let ada = customer(
        &app,
        &owner,
        json!({"name": "Ada", "phone": "+15125550100"}),
        &["sms"],
    )
    .await;
    let id = queued(
        &app,
        &owner,
        json!({"customer_id": ada, "channel": "sms", "body": "See you at <b>9</b>"}),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(message(&app, &owner, &id).await["status"], "sent");

    let session = sign_in(&app, &owner.email).await;
    let page = get_page(&app, "/app/messages", &session).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("+15125550100"));
    assert!(html.contains("<td>Sent"), "the delivery status in words");
    assert!(
        html.contains("See you at &lt;b&gt;9&lt;/b&gt;"),
        "text, not markup"
    );

    let failed = page_html(&app, "/app/messages?status=failed", &session).await;
    assert!(failed.contains("No messages.") && !failed.contains("+15125550100"));
    let emails = page_html(&app, "/app/messages?channel=email", &session).await;
    assert!(emails.contains("No messages."));

    // A filter the API refuses is refused here with its message.
    let bad = get_page(&app, "/app/messages?status=lost", &session).await;
    assert_eq!(bad.status(), 422);

    // The log is the office's.
    let tech = app.user_with_role(&owner, "technician").await;
    let tech_session = sign_in(&app, &tech.email).await;
    assert_eq!(
        get_page(&app, "/app/messages", &tech_session)
            .await
            .status(),
        403
    );
    // Another account's log holds none of it.
    let other = app.signup().await;
    let other_session = sign_in(&app, &other.email).await;
    let theirs = page_html(&app, "/app/messages", &other_session).await;
    assert!(!theirs.contains("+15125550100") && theirs.contains("No messages."));
}
