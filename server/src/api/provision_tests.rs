//! Creating, changing and deleting trunks, DIDs, queues and agents through the routes:
//! what the file on disk holds afterwards (the operator's comments kept), what the
//! gateway and the session hub serve, and every refusal leaving the file as it was.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::tests::{admin, app, gateway, get, send, SIGNALING};
use crate::browser::hub_api::testing::TestHub;

async fn call(app: &axum::Router, method: &str, uri: &str, body: &Value) -> (StatusCode, Value) {
    let (status, _, body) = send(app, method, uri, Some(&admin()), body.to_string()).await;
    (status, body)
}

#[tokio::test]
async fn a_trunk_is_created_changed_and_deleted_in_the_file_and_in_effect() {
    let (dir, _) = gateway("api-prov-trunk", SIGNALING);
    let path = dir.join("dcx.toml");
    let before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("# operator's note\n{before}")).unwrap();
    let gw = {
        let loaded = crate::config::load_file(&path).unwrap();
        std::sync::Arc::new(crate::gateway::Gateway::new(loaded).unwrap())
    };
    let app = app(&gw, None);
    let trunk = json!({"name": "carrier-x", "address": "127.0.0.1:5099", "username": "gw",
                       "password": "s3cret", "options_interval_s": 0});
    let (status, body) = call(&app, "POST", "/api/v1/trunks", &trunk).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["has_password"], true);
    assert!(body.get("password").is_none(), "{body}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# operator's note\n"), "{text}");
    assert!(text.contains("name = \"carrier-x\"") && text.contains("password = \"s3cret\""));
    crate::config::load_file(&path).expect("what the API wrote is a valid config");
    // In effect: the trunk list (config and health) has it.
    let (_, trunks) = get(&app, "/api/v1/trunks").await;
    let names: Vec<&str> = trunks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["carrier-b", "origin-a", "carrier-x"]);
    let (status, body) = get(&app, "/api/v1/trunks/carrier-x").await;
    assert_eq!(
        (status, body["address"].clone()),
        (StatusCode::OK, json!("127.0.0.1:5099"))
    );

    refusals_leave_the_file_as_it_was(&app, &path).await;

    // A change: the path names it, the body need not.
    let (status, body) = call(
        &app,
        "PUT",
        "/api/v1/trunks/carrier-x",
        &json!({"address": "127.0.0.1:5098", "options_interval_s": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"name": "carrier-x", "address": "127.0.0.1:5098", "options_interval_s": 0, "has_password": false})
    );
    let (_, body) = get(&app, "/api/v1/trunks/carrier-x").await;
    assert_eq!(body["address"], "127.0.0.1:5098");

    let (status, _, _) = send(
        &app,
        "DELETE",
        "/api/v1/trunks/carrier-x",
        Some(&admin()),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = get(&app, "/api/v1/trunks/carrier-x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("carrier-x") && text.starts_with("# operator's note\n"),
        "{text}"
    );
}

/// A duplicate, a body that is not an object, a bad address, an unknown trunk, a
/// rename: each refused with its status, and the file as it was.
async fn refusals_leave_the_file_as_it_was(app: &axum::Router, path: &std::path::Path) {
    let trunk = json!({"name": "carrier-x", "address": "127.0.0.1:5099"});
    let written = std::fs::read_to_string(path).unwrap();
    let (status, body) = call(app, "POST", "/api/v1/trunks", &trunk).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (status, body) = call(app, "POST", "/api/v1/trunks", &json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(
        app,
        "PUT",
        "/api/v1/trunks/carrier-x",
        &json!({"address": "nowhere"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "config_invalid");
    let problem = &body["error"]["problems"][0];
    assert!(
        problem["field"].as_str().unwrap().contains("address"),
        "{body}"
    );
    let (status, _) = call(
        app,
        "PUT",
        "/api/v1/trunks/carrier-y",
        &json!({"address": "127.0.0.1:1"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        app,
        "PUT",
        "/api/v1/trunks/carrier-x",
        &json!({"name": "carrier-z"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(std::fs::read_to_string(path).unwrap(), written);
}

#[tokio::test]
async fn a_config_edited_on_disk_since_it_was_loaded_is_not_overwritten() {
    let (dir, gw) = gateway("api-prov-disk", SIGNALING);
    let app = app(&gw, None);
    let path = dir.join("dcx.toml");
    let hand = format!(
        "{}\n# edited by hand\n",
        std::fs::read_to_string(&path).unwrap()
    );
    std::fs::write(&path, &hand).unwrap();
    let (status, body) = call(&app, "POST", "/api/v1/trunks", &json!({"name": "t"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("changed on disk"),
        "{body}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), hand);
}

#[tokio::test]
async fn queues_agents_and_dids_created_through_the_api_are_served_by_the_hub() {
    let (dir, gw) = gateway("api-prov-contact", SIGNALING);
    let hub = TestHub::start(None).await;
    let app = app(&gw, Some(hub.handle.clone()));
    let (_, queues) = get(&app, "/api/v1/queues").await;
    assert_eq!(queues, json!([]), "no contact center yet");

    // A DID naming a queue that does not exist yet: invalid.
    let did = json!({"number": "15550199", "queue": "sales"});
    let (status, body) = call(&app, "POST", "/api/v1/dids", &did).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let queue = json!({"name": "sales", "skills": {"sales": 1}, "ring_timeout_s": 12});
    let (status, body) = call(&app, "POST", "/api/v1/queues", &queue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = call(&app, "POST", "/api/v1/dids", &did).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/dids",
        &json!({"prefix": "1666", "queue": "sales"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/agents",
        &json!({"user": "agent7", "skills": {"sales": 4}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (_, queues) = get(&app, "/api/v1/queues").await;
    assert_eq!(queues[0]["name"], "sales", "{queues}");
    let (_, agents) = get(&app, "/api/v1/agents").await;
    assert_eq!(agents[0]["user"], "agent7");
    assert_eq!(agents[0]["queues"], json!(["sales"]), "{agents}");
    let (_, dids) = get(&app, "/api/v1/dids").await;
    assert_eq!(
        dids,
        json!([{"number": "15550199", "queue": "sales"}, {"prefix": "1666", "queue": "sales"}])
    );
    let (status, body) = get(&app, "/api/v1/dids/1666*").await;
    assert_eq!(
        (status, body["prefix"].clone()),
        (StatusCode::OK, json!("1666"))
    );

    // The queue cannot go while a DID names it; the DIDs first, then the queue.
    let (status, body) = send(&app, "DELETE", "/api/v1/queues/sales", Some(&admin()), "")
        .await
        .into_pair();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for did in ["15550199", "1666*"] {
        let (status, _) = send(
            &app,
            "DELETE",
            &format!("/api/v1/dids/{did}"),
            Some(&admin()),
            "",
        )
        .await
        .into_pair();
        assert_eq!(status, StatusCode::NO_CONTENT, "{did}");
    }
    let (status, _) = send(&app, "DELETE", "/api/v1/queues/sales", Some(&admin()), "")
        .await
        .into_pair();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, queues) = get(&app, "/api/v1/queues").await;
    assert_eq!(queues, json!([]));
    let text = std::fs::read_to_string(dir.join("dcx.toml")).unwrap();
    assert!(
        !text.contains("sales\"\n") && text.contains("user = \"agent7\""),
        "{text}"
    );
}

trait IntoPair {
    fn into_pair(self) -> (StatusCode, Value);
}

impl IntoPair for (StatusCode, Option<String>, Value) {
    fn into_pair(self) -> (StatusCode, Value) {
        (self.0, self.2)
    }
}
