//! The console's pages over HTTP against a real server with API keys on: a page's gRPC calls go in process through
//! the server's own layers, so they are refused without a token, answered with one, and a mutating action is
//! audited under the key's principal, as any client's call would be. (The pages themselves are tested in a browser:
//! tests/console.)

use std::net::SocketAddr;

use gantry_proto::v1 as pb;
use gantry_proto::v1::audit_service_client::AuditServiceClient;
use gantry_tests::Backend;
use gantry_tests::auth::{AuthServer, bearer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request with `headers`; returns the status code and the whole response (head and body).
async fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the HTTP port");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read the response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    (status, response)
}

#[tokio::test]
async fn console_calls_are_authenticated_and_audited_like_any_clients() {
    let auth = AuthServer::start_with(Backend::Sqlite, |config| {
        config.http_listen = Some("127.0.0.1:0".parse().expect("address"));
    })
    .await;
    let addr = auth.server.server.http_addr().expect("the HTTP port");
    auth.project("demo").await;
    let (key_id, operator) = auth.key(Some("demo"), pb::Role::Operator, None).await;
    let cookie = format!("gantry_token={operator}");

    let (status, page) = http(addr, "GET", "/executions", &[], "").await;
    assert_eq!(status, 401, "{page}");
    assert!(
        page.contains("UNAUTHENTICATED") && page.contains(r#"href="/login""#),
        "{page}"
    );

    let (status, page) = http(addr, "GET", "/executions", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Executions</h1>"), "{page}");

    // A mutating action: refused by the server (no such execution), and recorded under the key's principal.
    let missing = uuid::Uuid::now_v7().to_string();
    let origin = format!("http://{addr}");
    let headers = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let path = format!("/executions/{missing}/actions/terminate");
    let (status, page) = http(addr, "POST", &path, &headers, "reason=console+test").await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("NOT_FOUND"), "{page}");
    let mut audit = AuditServiceClient::new(auth.channel().await);
    let request = pb::ListAuditEntriesRequest {
        principal: key_id.clone(),
        rpc: "TerminateExecution".to_owned(),
        page_size: 10,
        ..Default::default()
    };
    let entries = audit
        .list_audit_entries(bearer(request, Some(&auth.admin_token)))
        .await
        .expect("the audit log")
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].outcome.contains("NOT_FOUND"), "{entries:?}");

    // Any form from another site, or without an Origin, is refused before any call: every POST route, one check.
    let foreign = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://elsewhere.example"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let no_origin = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let everything = pb::ListAuditEntriesRequest {
        principal: key_id.clone(),
        page_size: 100,
        ..Default::default()
    };
    let audited = audit
        .list_audit_entries(bearer(everything.clone(), Some(&auth.admin_token)))
        .await
        .expect("the audit log")
        .into_inner()
        .entries
        .len();
    let run = "/tasks/demo/dev/generate_others/1".to_owned();
    let login = "/login".to_owned();
    let logout = "/logout".to_owned();
    for route in [&path, &run, &login, &logout] {
        for headers in [&foreign[..], &no_origin[..]] {
            let (status, page) = http(addr, "POST", route, headers, "reason=x&tasks_count=1&token=x").await;
            assert_eq!(status, 403, "POST {route}: {page}");
            assert!(page.contains("Origin"), "POST {route}: {page}");
        }
    }
    let entries = audit
        .list_audit_entries(bearer(everything, Some(&auth.admin_token)))
        .await
        .expect("the audit log")
        .into_inner()
        .entries;
    assert_eq!(
        entries.len(),
        audited,
        "no call was made for a refused form: {entries:?}"
    );
    auth.server.stop().await;
}

/// The events of a server-sent event stream's text, `(event, data)` in order (chunk-size lines of the HTTP/1.1
/// body, which hold neither field, are skipped).
fn sse_events(text: &str) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let mut event = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("event: ") {
            event = Some(name.trim().to_owned());
        } else if let (Some(data), Some(name)) = (line.strip_prefix("data: "), event.take()) {
            events.push((name, data.trim().to_owned()));
        }
    }
    events
}

/// An execution page's live view when the server's watch falls behind a fan-out's burst of changes (a watch buffer of
/// 4 changes, so it falls behind at once): the console watches again with a snapshot, and the last counters it sends
/// are the execution's true totals, every node done.
#[tokio::test]
async fn live_counters_end_at_the_true_totals_when_the_watch_falls_behind() {
    let server = gantry_tests::TestServer::start_with(Backend::Sqlite, |config| {
        config.http_listen = Some("127.0.0.1:0".parse().expect("address"));
        config.watch_buffer = 4;
    })
    .await;
    let addr = server.server.http_addr().expect("the HTTP port");
    let mut admin = server.admin().await;
    for task in gantry_tests::raw_worker::task_templates() {
        gantry_tests::client::register_task(&mut admin, task).await;
    }
    let inputs =
        gantry_core::model::LiteralMap::from([("tasks_count".to_owned(), gantry_core::model::Literal::Integer(300))]);
    let target = gantry_tests::client::task_target(gantry_tests::raw_worker::id("generate_others"));
    let execution = gantry_tests::client::create(&mut admin, target, inputs, |_| {}).await;

    // The live view opens before any worker runs, so that the whole fan-out happens while it watches.
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /executions/{}/events HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        execution.id
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("event: counters") {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.expect("read the first events");
        assert!(read > 0, "the stream ended before its first counters");
        received.extend_from_slice(&chunk[..read]);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(gantry_tests::raw_worker::run(server.worker().await, "raw", 64, stopped));
    stream
        .read_to_end(&mut received)
        .await
        .expect("read until the stream ends");
    let _ = stop.send(true);
    let _ = worker.await;

    let text = String::from_utf8_lossy(&received);
    let events = sse_events(&text);
    assert_eq!(
        events.last().map(|(name, data)| (name.as_str(), data.as_str())),
        Some(("done", "succeeded")),
        "{text}"
    );
    let (_, last_counters) = events
        .iter()
        .rev()
        .find(|(name, _)| name == "counters")
        .expect("counters were sent");
    let counters: serde_json::Value = serde_json::from_str(last_counters).expect("counters are JSON");
    assert_eq!(counters["phase"], "succeeded", "{counters}");
    assert_eq!(counters["total"], 301, "the generator and its 300 children: {counters}");
    assert_eq!(counters["succeeded"], 301, "{counters}");
    assert_eq!(counters["done"], 301, "{counters}");
    server.stop().await;
}
