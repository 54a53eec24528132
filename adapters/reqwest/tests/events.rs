//! With the `tracing` feature, each retry is a `tracing` event a subscriber sees: what failed,
//! the wait, and why. (A tiny subscriber of our own records them.)
#![cfg(feature = "tracing")]

#[path = "../../../examples/support/server.rs"]
mod server;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use backoff_core_reqwest::{Jitter, Policy, RetryMiddleware};
use server::{Answer, Behaviour, Server};

/// Records each event's target and fields, as `name=value` text.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, String)>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push((event.metadata().target().to_owned(), fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn each_retry_is_a_tracing_event_saying_what_failed_and_how_long_it_waits() {
    let server = Server::start(Behaviour::Script(VecDeque::from(vec![
        Answer::new(503, "<html>busy</html>"),
        Answer::new(201, "{}"),
    ])));
    let policy = Policy::FOLLOW_UP_BOSS.with_base_ms(50).with_jitter(Jitter::Additive { max_ms: 50 });
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(recorder.clone(), || {
        runtime.block_on(async {
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(RetryMiddleware::with_policy(policy))
                .build();
            let response = client.get(&server.url).send().await.expect("a 201 in the end");
            assert_eq!(response.status(), 201);
        });
    });
    let events = recorder.0.lock().unwrap().clone();
    let ours: Vec<_> = events.iter().filter(|(target, _)| target == "backoff_core").collect();
    assert_eq!(ours.len(), 1, "one retry, one event: {events:?}");
    let fields = &ours[0].1;
    for expected in ["attempt=1", "kind=ServerError", "status=503", "wait=Backoff(Rng)"] {
        assert!(fields.contains(expected), "{expected} in {fields}");
    }
    assert!(fields.contains("delay_ms="), "{fields}");
}
