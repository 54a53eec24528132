//! The middleware in a real reqwest client, over real loopback sockets, against the example's
//! local Follow-Up-Boss-like server.

#[path = "../../../examples/support/server.rs"]
mod server;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use backoff_core::{ErrorKind, Jitter, Policy, Stop};
use backoff_core_reqwest::{Attempts, Context, RetryError, RetryMiddleware};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use server::{Answer, Behaviour, Server};

/// The preset's shape, twenty times faster (the `Retry-After` floor stays 1 s).
const FAST: Policy = Policy::FOLLOW_UP_BOSS
    .with_base_ms(50)
    .with_jitter(Jitter::Additive { max_ms: 50 })
    .with_max_backoff_ms(800)
    .with_retry_after_jitter_ms(50);

fn client(policy: Policy) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new()).with(RetryMiddleware::with_policy(policy)).build()
}

fn script(answers: Vec<Answer>) -> Server {
    Server::start(Behaviour::Script(VecDeque::from(answers)))
}

fn retry_error(error: reqwest_middleware::Error) -> RetryError {
    match error {
        reqwest_middleware::Error::Middleware(e) => e.downcast::<RetryError>().expect("a RetryError"),
        other => panic!("not the middleware's error: {other}"),
    }
}

#[tokio::test]
async fn a_503_is_retried_after_a_backoff_until_the_201() {
    let server = script(vec![Answer::new(503, "<html>busy</html>"), Answer::new(201, r#"{"id":7}"#)]);
    let response = client(FAST).get(&server.url).send().await.expect("a 201 in the end");
    assert_eq!(response.status(), 201);
    assert_eq!(response.extensions().get::<Attempts>(), Some(&Attempts(2)));
    assert_eq!(response.text().await.unwrap(), r#"{"id":7}"#, "the success's body is untouched");
    let received = server.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_millis(50), "retried after {gap:?}");
}

#[tokio::test]
async fn a_429_with_retry_after_holds_a_concurrent_request_of_its_context() {
    let limited = Answer::new(429, r#"{"errorMessage":"Too many requests."}"#)
        .header("Retry-After", "1")
        .header("X-RateLimit-Context", "events");
    let server = script(vec![limited, Answer::new(201, "{}"), Answer::new(201, "{}")]);
    let client = client(FAST);
    let started = Instant::now();
    let first = client.post(&server.url).with_extension(Context("events")).body("a").send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.post(&server.url).with_extension(Context("events")).body("b").send().await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.expect("429 is retried, even for a POST").status(), 201);
    assert_eq!(second.expect("held, then sent").status(), 201);
    let received = server.received();
    assert_eq!(received.len(), 3, "the second request never met the 429: {received:?}");
    assert_eq!(received[0].status, 429);
    // Both later requests came after the Retry-After, the concurrent one included.
    for r in &received[1..] {
        assert!(r.at >= Duration::from_millis(1000), "{r:?} came before the Retry-After");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_400_fails_at_once_with_its_error_message_and_a_readable_response() {
    let body = r#"{"errorMessage":"Invalid fields in the request body: emails."}"#;
    let server = script(vec![Answer::new(400, body)]);
    let error = client(FAST).post(&server.url).body("{}").send().await.expect_err("a 400 fails");
    let error = retry_error(error);
    assert_eq!(error.message(), Some("Invalid fields in the request body: emails."));
    assert_eq!((error.error.stop, error.error.attempts), (Stop::Permanent, 1));
    assert!(error.to_string().contains("bad request (400): Invalid fields"), "{error}");
    let response = error.into_response().expect("the last response");
    assert_eq!(response.status(), 400);
    assert_eq!(response.text().await.unwrap(), body, "the application can still read the body");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_post_is_not_retried_after_a_502() {
    let server = script(vec![Answer::new(502, "<html>bad gateway</html>"), Answer::new(201, "{}")]);
    let error = client(FAST).post(&server.url).body("{}").send().await.expect_err("not retried");
    let error = retry_error(error);
    assert_eq!(error.error.stop, Stop::MayHaveBeenProcessed);
    assert_eq!(error.error.status(), Some(502));
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_is_retried_after_a_502() {
    let server = script(vec![Answer::new(502, "<html>bad gateway</html>"), Answer::new(201, "{}")]);
    let response = client(FAST)
        .post(&server.url)
        .header("Idempotency-Key", "lead-42")
        .body("{}")
        .send()
        .await
        .expect("retried");
    assert_eq!(response.status(), 201);
    assert_eq!(server.received().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_post() {
    // A port that was free a moment ago: connecting to it is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/v1/events");
    let policy = FAST.with_max_retries(2);
    let error = client(policy).post(&url).body("{}").send().await.expect_err("nobody listens");
    let error = retry_error(error);
    assert_eq!(error.error.kind(), ErrorKind::Transport);
    assert_eq!((error.error.stop, error.error.attempts), (Stop::RetriesExhausted, 3));
    let transport = error.transport.as_ref().expect("reqwest's own error is kept");
    assert!(matches!(transport, reqwest_middleware::Error::Reqwest(e) if e.is_connect()), "{transport}");
}

#[tokio::test]
async fn clones_of_a_client_share_the_rate_limit_state() {
    let limited = Answer::new(429, "{}").header("Retry-After", "1").header("X-RateLimit-Context", "events");
    let server = script(vec![limited, Answer::new(201, "{}")]);
    // No retries, so the 429 comes back at once, leaving its hold in the shared state.
    let client = client(FAST.with_max_retries(0));
    let clone = client.clone();
    let started = Instant::now();
    let error = client.get(&server.url).with_extension(Context("events")).send().await.expect_err("429");
    assert_eq!(retry_error(error).error.stop, Stop::RetriesExhausted);
    let second = clone.get(&server.url).with_extension(Context("events")).send().await.unwrap();
    assert_eq!(second.status(), 201);
    assert!(started.elapsed() >= Duration::from_millis(1000), "the clone went before the hold");
    let received = server.received();
    assert!(received[1].at >= Duration::from_millis(1000), "{received:?}");
}
