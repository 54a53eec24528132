//! The error-body parser against `serde_json` (derive, `String`) and `serde-json-core` 0.7
//! (derive, `heapless::String<128>`, its escaped mode), on the bodies a client really gets.
//!
//! ```text
//! cargo bench --bench body
//! ```
//!
//! Every contender's answer is checked against serde_json before anything is timed.

mod harness;

use std::hint::black_box;

use backoff_core::Body;
use harness::{keep, race, samples, Contender};
use serde::Deserialize;

#[derive(Deserialize)]
struct StdBody {
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct CoreBody {
    #[serde(rename = "errorMessage")]
    error_message: Option<heapless::String<128>>,
}

fn with_serde_json(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<StdBody>(body).ok()?.error_message
}

fn with_serde_json_core(body: &[u8]) -> Option<heapless::String<128>> {
    let mut scratch = [0u8; 128];
    serde_json_core::from_slice_escaped::<CoreBody>(body, &mut scratch).ok()?.0.error_message
}

fn ours(body: &[u8]) -> Body<128> {
    Body::parse(body)
}

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let small = br#"{"errorMessage":"Invalid fields in the request body: emails."}"#.to_vec();

    let mut kib =
        String::from(r#"{"id":81234,"status":"error","requestId":"a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6","#);
    kib.push_str(
        r#""context":{"person":{"firstName":"Ren\u00e9e","lastName":"O'Brien","tags":["lead","vip","2024"],"#,
    );
    kib.push_str(
        r#""emails":[{"value":"renee@example.com","type":"work"}],"phones":[{"value":"+1 555 0100"}]}},"#,
    );
    while kib.len() < 850 {
        kib.push_str(r#""note":"lorem ipsum dolor sit amet, consectetur adipiscing elit","#);
    }
    kib.push_str(r#""errorMessage":"Field \"emails[0].value\" is invalid: \u00e9t\u00e9 \ud83d\ude00 \\ see /docs\/errors\n"}"#);

    let mut big = String::from(r#"{"data":["#);
    let mut i = 0;
    while big.len() < 16 * 1024 - 100 {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&format!(r#"{{"id":{i},"name":"person {i}","score":{}.5,"ok":true}}"#, i * 7));
        i += 1;
    }
    big.push_str(r#"],"errorMessage":"Too many results; narrow the query."}"#);

    let mut html = String::from(
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n",
    );
    while html.len() < 560 {
        html.push_str("<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n");
    }
    html.push_str("<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n");

    let truncated = small[..40].to_vec();
    vec![
        ("62 B errorMessage", small),
        ("1 KiB, escapes", kib.into_bytes()),
        ("16 KiB, data first", big.into_bytes()),
        ("600 B HTML 502", html.into_bytes()),
        ("truncated", truncated),
    ]
}

/// `--count CONTENDER CASE N`: parse one case N times with one contender and nothing else, for
/// `bash benches/instructions.sh` (callgrind counts the difference between N and 0).
fn count(args: &[String]) {
    let who = args.first().map(String::as_str).unwrap_or("ours");
    let case: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let cases = cases();
    let body = cases[case.min(cases.len() - 1)].1.as_slice();
    for _ in 0..n {
        match who {
            "serde_json" => keep(with_serde_json(black_box(body))),
            "serde-json-core" => keep(with_serde_json_core(black_box(body))),
            _ => keep(ours(black_box(body))),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--count") {
        return count(&args[i + 1..]);
    }
    let samples = if std::env::args().any(|a| a == "--bench") { samples() } else { 3 };
    println!(
        "{:<20} {:>7} {:>12} {:>12} {:>14} {:>10} {:>10}",
        "case", "bytes", "ours ns", "serde_json", "serde-json-core", "sj/ours", "sjc/ours"
    );
    for (name, body) in cases() {
        // Check every answer before timing.
        let expected = with_serde_json(&body);
        assert_eq!(ours(&body).message(), expected.as_deref(), "{name}: ours vs serde_json");
        // serde-json-core is timed even where it is wrong, and the table says so.
        let core_right = with_serde_json_core(&body).as_deref() == expected.as_deref();
        let body = body.as_slice();
        let mut contenders = [
            Contender { run: Box::new(|| keep(ours(black_box(body)))) },
            Contender { run: Box::new(|| keep(with_serde_json(black_box(body)))) },
            Contender { run: Box::new(|| keep(with_serde_json_core(black_box(body)))) },
        ];
        let t = race(&mut contenders, samples);
        println!(
            "{:<20} {:>7} {:>12.1} {:>12.1} {:>14.1}{} {:>9.2}x {:>9.2}x",
            name,
            body.len(),
            t[0],
            t[1],
            t[2],
            if core_right { " " } else { "!" },
            t[1] / t[0],
            t[2] / t[0]
        );
    }
    println!(
        "! = serde-json-core gave a different answer from serde_json (it rejects surrogate-pair escapes)"
    );
}
