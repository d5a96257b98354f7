//! The API's routes through the gateway's real router (`gateway::app`), one request at a
//! time with `tower::ServiceExt::oneshot`: a gateway built from a config in a fresh
//! directory (nothing is bound), and for calls, agents and queues a real session hub
//! (`browser::hub_api::testing`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use dcx_signaling::{Claims, Role, TokenKey};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::browser::hub::HubHandle;
use crate::browser::hub_api::testing::{contact_center, TestHub};
use crate::cdr::fixture::{many, TempDir, T0_MS};
use crate::cdr::CdrStore;
use crate::gateway::Gateway;

const KEY: &str = "dcx-demo-signing-key-change-me!!";
const DECK: &str = "prefix,carrier,rate\n1555,carrier-b,0.01\n44,carrier-b,0.02\n";
pub(super) const SIGNALING: &str = "[sip]\nlisten = \"127.0.0.1:0\"\n\
    [media]\nrtp_ports = \"40000-40099\"\npublic_ip = \"127.0.0.1\"\nwebrtc_port = 40100\n\
    [signaling]\ntoken_key = \"dcx-demo-signing-key-change-me!!\"\n";
const TRUNKS: &str = "[[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:5090\"\n\
    [[trunks]]\nname = \"origin-a\"\ninbound_from = [\"127.0.0.1/32\"]\n";

/// A gateway of a config in its own directory (with `extra` sections), and its dir.
pub(super) fn gateway(name: &str, extra: &str) -> (TempDir, Arc<Gateway>) {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("deck.csv"), DECK).unwrap();
    let config = format!(
        "[server]\nhttp_listen = \"127.0.0.1:0\"\n{extra}\
         [routing]\ndeck = \"deck.csv\"\n[cdr]\npath = \"cdr.sqlite\"\n{TRUNKS}"
    );
    std::fs::write(dir.join("dcx.toml"), config).unwrap();
    let loaded = crate::config::load_file(&dir.join("dcx.toml")).unwrap();
    (dir, Arc::new(Gateway::new(loaded).unwrap()))
}

/// The gateway's whole router, with `hub` as its session hub (browsers served).
pub(super) fn app(gateway: &Arc<Gateway>, hub: Option<HubHandle>) -> Router {
    let browsers = hub.map(|hub| {
        Arc::new(crate::browser::Browsers {
            hub,
            tokens: TokenKey::new(KEY.as_bytes()).unwrap(),
            stats: Arc::default(),
        })
    });
    crate::gateway::app(gateway.clone(), browsers)
}

fn token(role: Role, key: &str, exp: u64) -> String {
    let claims = Claims {
        account: "demo".into(),
        user: "someone".into(),
        role,
        exp,
    };
    TokenKey::new(key.as_bytes()).unwrap().sign(&claims)
}

pub(super) fn admin() -> String {
    token(Role::Admin, KEY, 4_102_444_800)
}

/// One request; the status, the `WWW-Authenticate` header and the body as JSON.
pub(super) async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, Option<String>, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(token) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = req
        .header(header::CONTENT_TYPE, "text/csv")
        .body(body.into())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, challenge, body)
}

pub(super) async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(app, "GET", uri, Some(&admin()), Body::empty()).await;
    (status, body)
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn requests_without_an_admin_token_are_refused_with_401_or_403() {
    let (_dir, gw) = gateway("api-auth", SIGNALING);
    let app = app(&gw, None);
    let (status, challenge, body) = send(&app, "GET", "/api/v1/trunks", None, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer"),
        "{body}"
    );
    assert_eq!(challenge.as_deref(), Some("Bearer realm=\"dcx\""));

    let forged = token(
        Role::Admin,
        "another-key-of-32-bytes-exactly!",
        4_102_444_800,
    );
    let expired = token(Role::Admin, KEY, 1_000_000_000);
    for (token, expect) in [
        ("not.a.token", "token_invalid"),
        (forged.as_str(), "token_invalid"),
        (expired.as_str(), "token_expired"),
    ] {
        let (status, challenge, body) = send(&app, "GET", "/api/v1/trunks", Some(token), "").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, expect),
            "{body}"
        );
        assert!(challenge.unwrap().contains("invalid_token"));
    }

    let softphone = token(Role::Softphone, KEY, 4_102_444_800);
    for (method, uri) in [
        ("GET", "/api/v1/trunks"),
        ("PUT", "/api/v1/deck"),
        ("DELETE", "/api/v1/calls/c1"),
        ("GET", "/api/v1/cdrs?from=yesterday"),
        ("GET", "/api/v1/nothing-here"),
    ] {
        let (status, _, body) = send(&app, method, uri, Some(&softphone), "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {body}");
        assert_eq!(code(&body), "forbidden");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("softphone"),
            "{body}"
        );
    }
    // The deck was not touched by the refused PUT.
    assert_eq!(gw.deck().rows, 2);

    // Unknown routes and methods: 401 for strangers, JSON 404 / 405 for an admin.
    let (status, _, _) = send(&app, "GET", "/api/v1/nothing-here", None, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = get(&app, "/api/v1/nothing-here").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/api/v1/nothing-here"));
    let (status, _, body) = send(&app, "POST", "/api/v1/calls", Some(&admin()), "").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    // The gateway's own routes are still there.
    let (status, body) = get(&app, "/healthz").await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
}

#[tokio::test]
async fn without_signaling_the_api_is_503_and_readyz_still_answers() {
    let (_dir, gw) = gateway("api-off", "");
    let app = app(&gw, None);
    let (status, _, body) = send(&app, "GET", "/api/v1/calls", Some(&admin()), "").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "api_disabled")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("[signaling] token_key"));

    let (status, _, body) = send(&app, "GET", "/readyz", None, "").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not listening yet: {body}"
    );
    assert_eq!(
        body,
        json!({"status": "not_ready", "listening": false, "deck_rows": 2})
    );
    gw.set_listening();
    let (status, _, body) = send(&app, "GET", "/readyz", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ready", "listening": true, "deck_rows": 2})
    );
}

#[tokio::test]
async fn bad_cdr_queries_are_400_with_the_reason() {
    let (_dir, gw) = gateway("api-bad-query", SIGNALING);
    let app = app(&gw, None);
    for (query, words) in [
        ("from=yesterday", &["from", "\"yesterday\"", "RFC 3339"][..]),
        ("to=2026-13-01T00:00:00Z", &["to", "2026-13-01"][..]),
        ("limit=5000", &["limit", "1000"][..]),
        ("limit=0", &["limit"][..]),
        ("limit=many", &["limit"][..]),
        ("since=2026-03-01", &["since"][..]),
        ("from=2026-03-02&to=2026-03-01", &["after"][..]),
    ] {
        let (status, body) = get(&app, &format!("/api/v1/cdrs?{query}")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{query}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        for w in words {
            assert!(message.contains(w), "{query}: {message:?} lacks {w:?}");
        }
    }
}

#[tokio::test]
async fn cdrs_are_read_by_time_range_newest_first() {
    let (dir, gw) = gateway("api-cdrs", SIGNALING);
    let app = app(&gw, None);
    let (status, body) = get(&app, "/api/v1/cdrs").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])), "no store yet");

    let mut store = CdrStore::open(dir.join("cdr.sqlite")).unwrap();
    store.insert_batch(&many(150)).unwrap();
    let ids = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|c| c["call_id"].as_str().unwrap().to_owned())
            .collect()
    };
    // From T0 + 1 s (unix ms) to T0 + 4 s (RFC 3339, another offset): 1, 2, 3.
    let (from, to) = (T0_MS + 1000, "2026-03-01T13:00:04%2B01:00");
    let (status, body) = get(&app, &format!("/api/v1/cdrs?from={from}&to={to}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), ["call-00003", "call-00002", "call-00001"]);
    assert_eq!(body[0]["start_ms"], T0_MS + 3000);
    assert_eq!(body[0]["rate_per_min"], 0.0123);
    let (_, body) = get(&app, &format!("/api/v1/cdrs?from={from}&to={to}&limit=2")).await;
    assert_eq!(ids(&body), ["call-00003", "call-00002"]);
    let (_, body) = get(&app, "/api/v1/cdrs").await;
    assert_eq!(body.as_array().unwrap().len(), 100, "the default limit");
    assert_eq!(body[0]["call_id"], "call-00149");
    let (_, body) = get(&app, "/api/v1/cdrs?limit=1000&call_id=call-00042").await;
    assert_eq!(ids(&body), ["call-00042"]);
}

#[tokio::test]
async fn a_bad_deck_is_422_with_every_problem_and_the_old_deck_stays() {
    let (_dir, gw) = gateway("api-bad-deck", SIGNALING);
    let app = app(&gw, None);
    let bad = "prefix,carrier,rate\n1555,carrier-b,0.01\n1556,carrier-b,x\n12ab,carrier-c,0.01\n";
    let (status, _, body) = send(&app, "PUT", "/api/v1/deck", Some(&admin()), bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "deck_invalid");
    let problems = body["error"]["problems"].as_array().unwrap();
    let at: Vec<(u64, &str)> = problems
        .iter()
        .map(|p| (p["line"].as_u64().unwrap(), p["field"].as_str().unwrap()))
        .collect();
    assert_eq!(at, [(3, "rate"), (4, "prefix")], "{body}");
    assert!(problems
        .iter()
        .all(|p| p["message"].as_str().is_some_and(|m| !m.is_empty())));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unchanged"));

    let (_, body) = get(&app, "/api/v1/deck").await;
    assert_eq!(body["rows"], 2, "the old deck is in effect: {body}");
    assert!(body["deck"].as_str().unwrap().ends_with("deck.csv"));
    let (_, health) = get(&app, "/healthz").await;
    assert_eq!(health["routing"]["rows"], 2);
    assert_eq!(health["routing"]["failed_reloads"], 1);
    assert_eq!(health["routing"]["reloads"], 0);

    let (status, _, body) = send(
        &app,
        "PUT",
        "/api/v1/deck",
        Some(&admin()),
        vec![0xff, 0xfe],
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request"),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("UTF-8"));
    let (status, _, body) = send(&app, "PUT", "/api/v1/deck", Some(&admin()), "").await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty deck: {body}"
    );
    assert_eq!(gw.deck().rows, 2);
}

#[tokio::test]
async fn a_good_deck_is_swapped_in() {
    let (_dir, gw) = gateway("api-good-deck", SIGNALING);
    let app = app(&gw, None);
    let deck =
        "prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n4420,carrier-c,0.03\n";
    let (status, _, body) = send(&app, "PUT", "/api/v1/deck", Some(&admin()), deck).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expect = json!({"deck": "<uploaded by PUT /api/v1/deck>", "rows": 3, "prefixes": 2,
        "carriers": ["carrier-b", "carrier-c"]});
    assert_eq!(body, expect);
    let (_, now) = get(&app, "/api/v1/deck").await;
    assert_eq!(now, expect);
    let (_, health) = get(&app, "/healthz").await;
    assert_eq!(health["routing"]["rows"], 3);
    assert_eq!(health["routing"]["deck"], "<uploaded by PUT /api/v1/deck>");
    assert_eq!(health["routing"]["reloads"], 1);
}

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one story: listing, seeing by role, hanging up"
)]
async fn calls_are_listed_and_hanging_up_an_unknown_one_is_404() {
    let (_dir, gw) = gateway("api-calls", SIGNALING);
    let (status, body) = get(&app(&gw, None), "/api/v1/calls").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "no hub"
    );

    let hub = TestHub::start(None).await;
    let app = app(&gw, Some(hub.handle.clone()));
    let (status, body) = get(&app, "/api/v1/calls").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    let (alice, _a) = hub.login("alice", Role::Softphone).await;
    let (bob, _b) = hub.login("bob", Role::Softphone).await;
    hub.browser_call(alice, "c1");
    hub.browser_call(bob, "c1");
    hub.browser_call(bob, "c2");
    let (status, body) = get(&app, "/api/v1/calls").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 3, "{body}");
    let bobs = bob.session_id().to_string();
    let c2 = body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["call_id"] == "c2")
        .unwrap();
    assert_eq!(
        c2,
        &json!({"call_id": "c2", "kind": "browser", "account": "demo", "user": "bob", "session": bobs})
    );

    // A supervisor sees its own account's calls only (and may not hang up).
    let (carol, _c) = hub.login("other/carol", Role::Softphone).await;
    hub.browser_call(carol, "c7");
    let (_, all) = get(&app, "/api/v1/calls").await;
    assert_eq!(all.as_array().unwrap().len(), 4, "{all}");
    let supervisor = token(Role::Supervisor, KEY, 4_102_444_800);
    let (status, _, seen) = send(&app, "GET", "/api/v1/calls", Some(&supervisor), "").await;
    assert_eq!(status, StatusCode::OK);
    let accounts: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["demo", "demo", "demo"], "{seen}");
    for (method, uri) in [
        ("DELETE", "/api/v1/calls/c7"),
        ("GET", "/api/v1/trunks"),
        ("GET", "/api/v1/cdrs"),
    ] {
        let (status, _, body) = send(&app, method, uri, Some(&supervisor), "").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {uri}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("whose role is admin"),
            "{body}"
        );
    }
    for uri in ["/api/v1/agents", "/api/v1/queues"] {
        let (status, _, _) = send(&app, "GET", uri, Some(&supervisor), "").await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    let agent = token(Role::Agent, KEY, 4_102_444_800);
    let (status, _, body) = send(&app, "GET", "/api/v1/queues", Some(&agent), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("admin or supervisor"),
        "{body}"
    );

    let delete = |uri: String| {
        let app = app.clone();
        async move { send(&app, "DELETE", &uri, Some(&admin()), "").await }
    };
    let (status, _, body) = delete("/api/v1/calls/c9".into()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("c9"));
    let (status, _, body) = delete("/api/v1/calls/c1".into()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("?session="));
    let (status, _, body) = delete(format!("/api/v1/calls/c1?session={bobs}")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (&body["user"], &body["session"]),
        (&json!("bob"), &json!(bobs))
    );
    let (status, _, body) = delete("/api/v1/calls/c2".into()).await;
    assert_eq!(
        (status, &body["call_id"]),
        (StatusCode::ACCEPTED, &json!("c2"))
    );
    let (status, _, body) = delete("/api/v1/calls/c2?who=me".into()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request"),
        "{body}"
    );
}

#[tokio::test]
async fn agents_and_queues_come_from_the_contact_center() {
    let (_dir, gw) = gateway("api-contact", SIGNALING);
    let hub = TestHub::start(Some(contact_center(&["agent1", "agent2"]))).await;
    let app = app(&gw, Some(hub.handle.clone()));
    let (status, body) = get(&app, "/api/v1/agents").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body[0],
        json!({"user": "agent1", "state": "offline", "wrap_up_remaining_s": null,
               "call_id": null, "skills": {"support": 5}, "queues": ["support"],
               "calls_handled": 0})
    );
    assert_eq!(body[1]["user"], "agent2");

    let (agent2, _outbox) = hub.login("agent2", Role::Agent).await;
    let available = dcx_signaling::ClientMessage::AgentState {
        state: dcx_signaling::AgentState::Available,
    };
    hub.client(agent2, available);
    let (status, body) = get(&app, "/api/v1/queues").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([{"name": "support", "strategy": "longest-idle", "waiting": [],
                "agents_eligible": ["agent1", "agent2"], "agents_available": ["agent2"]}])
    );
    let (_, body) = get(&app, "/api/v1/agents").await;
    assert_eq!(body[1]["state"], "available");

    // Without queues there are no agents and no queues.
    let plain = TestHub::start(None).await;
    let app = self::app(&gw, Some(plain.handle.clone()));
    assert_eq!(
        get(&app, "/api/v1/agents").await,
        (StatusCode::OK, json!([]))
    );
    assert_eq!(
        get(&app, "/api/v1/queues").await,
        (StatusCode::OK, json!([]))
    );
}

#[tokio::test]
async fn trunks_are_listed_from_the_config_with_their_health() {
    let (_dir, gw) = gateway("api-trunks", SIGNALING);
    let (status, body) = get(&app(&gw, None), "/api/v1/trunks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!([
            {"name": "carrier-b", "address": "127.0.0.1:5090", "transport": "udp",
             "inbound_from": [], "options_interval_s": 30, "register": false,
             "health": null, "registration": null},
            {"name": "origin-a", "address": null, "transport": "udp",
             "inbound_from": ["127.0.0.1/32"], "options_interval_s": 30, "register": false,
             "health": null, "registration": null},
        ])
    );
}

#[test]
fn every_route_is_documented_in_api_md_and_openapi_yaml() {
    let api_md = include_str!("../../../docs/api.md");
    let openapi = include_str!("../../../docs/openapi.yaml");
    for (method, path) in [
        ("GET", "/readyz"),
        ("GET", "/api/v1/calls"),
        ("DELETE", "/api/v1/calls/{call_id}"),
        ("GET", "/api/v1/agents"),
        ("GET", "/api/v1/queues"),
        ("GET", "/api/v1/cdrs"),
        ("GET", "/api/v1/deck"),
        ("PUT", "/api/v1/deck"),
        ("GET", "/api/v1/trunks"),
        ("POST", "/api/v1/trunks"),
        ("GET", "/api/v1/trunks/{name}"),
        ("PUT", "/api/v1/trunks/{name}"),
        ("DELETE", "/api/v1/trunks/{name}"),
        ("GET", "/api/v1/dids"),
        ("POST", "/api/v1/dids"),
        ("GET", "/api/v1/dids/{did}"),
        ("PUT", "/api/v1/dids/{did}"),
        ("DELETE", "/api/v1/dids/{did}"),
        ("POST", "/api/v1/queues"),
        ("GET", "/api/v1/queues/{name}"),
        ("PUT", "/api/v1/queues/{name}"),
        ("DELETE", "/api/v1/queues/{name}"),
        ("POST", "/api/v1/agents"),
        ("GET", "/api/v1/agents/{user}"),
        ("PUT", "/api/v1/agents/{user}"),
        ("DELETE", "/api/v1/agents/{user}"),
    ] {
        assert!(
            api_md.contains(&format!("`{method} {path}")),
            "docs/api.md: {method} {path}"
        );
        let at = openapi
            .find(&format!("\n  {path}:\n"))
            .unwrap_or_else(|| panic!("docs/openapi.yaml: {path}"));
        let next = openapi[at + 1..]
            .find("\n  /")
            .map_or(openapi.len(), |n| at + 1 + n);
        let section = &openapi[at..next];
        let method = method.to_ascii_lowercase();
        assert!(
            section.contains(&format!("\n    {method}:\n")),
            "docs/openapi.yaml: {method} {path}"
        );
    }
}
