//! The conformance vectors (`vectors/*.json`) replayed through the public API: every case is
//! run again and its answers compared with the recorded ones. This is the test the vectors'
//! completeness is measured with (mutation testing with it as the only test; docs/testing.md).
//!
//! The executor is `cli/src/vectors.rs`, the file the generator (`cargo run --example vectors`)
//! and `backoff-core replay` run; every random word a case gives must be drawn.

#[allow(dead_code)]
#[path = "../cli/src/vectors.rs"]
mod vectors;

use serde_json::Value;
use vectors::Words;

/// The first difference between two answers, as a path and the two values.
fn difference(path: &str, recorded: &Value, now: &Value) -> Option<String> {
    match (recorded, now) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                let (x, y) = (a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null));
                if let Some(d) = difference(&format!("{path}.{key}"), x, y) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| difference(&format!("{path}[{i}]"), x, y))
        }
        _ if recorded == now => None,
        _ => Some(format!("{path}: recorded {recorded}, now {now}")),
    }
}

#[test]
fn every_vector_replays_to_its_recorded_answer() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut failures = Vec::new();
    let mut total = 0;
    for section in vectors::SECTIONS {
        let path = dir.join(format!("{section}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(file["version"], vectors::VERSION, "{section}: format version");
        assert_eq!(file["section"], section);
        let cases = file["cases"].as_array().expect("cases");
        assert!(!cases.is_empty(), "{section}: no cases");
        for case in cases {
            total += 1;
            let name = format!("{section}: {}", case["name"]);
            match vectors::run(section, case, Words::Exact) {
                Ok(now) => {
                    if let Some(d) = difference("", case, &now) {
                        failures.push(format!("{name}: {d}"));
                    }
                }
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{} of {total} cases differ:\n{}", failures.len(), failures.join("\n"));
}
