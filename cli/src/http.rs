//! A raw HTTP/1.x (or curl's HTTP/2 rendering) response, as `curl -si` prints it or a socket
//! captured it: status line, headers, blank line, body. Lenient where the meaning is clear
//! (bare `\n` line ends, obsolete folded header lines, an interim 1xx or a proxy's `Connection
//! established` before the response); precise errors where it is not.

/// A response read from bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `HTTP/1.1`, `HTTP/2`, …
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase (empty for HTTP/2).
    pub reason: String,
    /// The headers, in order, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body as it arrived (chunked transfer coding removed).
    pub body: Vec<u8>,
    /// Why the body is known to be incomplete (shorter than `Content-Length`, a chunked body
    /// that stops part way), if it is.
    pub cut: Option<String>,
    /// What was passed over or noticed on the way, for the reader.
    pub notes: Vec<String>,
}

impl Response {
    /// The first header named `name` (case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads a response from `input`; the error says what is wrong and where.
pub fn parse(input: &[u8]) -> Result<Response, String> {
    let mut rest = input;
    // Blank lines before the status line (a heredoc, a copy from a terminal) are skipped.
    while let [b'\r' | b'\n' | b' ' | b'\t', tail @ ..] = rest {
        rest = tail;
    }
    if rest.is_empty() {
        return Err(
            "no input: expected a raw HTTP response on stdin (e.g. `curl -si URL | backoff-core decide`)"
                .into(),
        );
    }
    let mut notes = Vec::new();
    loop {
        let (head, body) = split_head(rest)?;
        let mut response = head_of(head)?;
        // An interim response, or a proxy's tunnel, before the real one: skip it.
        let interim = (100..200).contains(&response.status)
            || response.reason.eq_ignore_ascii_case("connection established")
            || (300..400).contains(&response.status);
        if interim && body.starts_with(b"HTTP/") {
            notes.push(format!(
                "skipped {} {} {} before the final response",
                response.version, response.status, response.reason
            ));
            rest = body;
            continue;
        }
        read_body(&mut response, body);
        response.notes.splice(0..0, notes);
        return Ok(response);
    }
}

/// The head (status line and headers) and what follows the blank line after it.
fn split_head(input: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut at = 0;
    while let Some(nl) = input.get(at..).and_then(|s| s.iter().position(|&b| b == b'\n')) {
        let line_end = at + nl;
        let line = &input[at..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() && at > 0 {
            return Ok((&input[..at], &input[line_end + 1..]));
        }
        at = line_end + 1;
    }
    // No blank line: the whole input is a head with nothing after it, if it ends a line.
    if input.ends_with(b"\n") {
        return Ok((input, &[]));
    }
    if input.starts_with(b"HTTP/") {
        // A head that stops part way through a line: cut before the body began.
        return Err("the response ends in the middle of its headers (no blank line after them)".into());
    }
    Err("not an HTTP response: the first line is not followed by headers and a blank line".into())
}

fn head_of(head: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let (version, status, reason) = status_line_of(status_line)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding (RFC 9112 §5.2): part of the previous value.
            let Some(last) = headers.last_mut() else {
                return Err(format!("line {}: a continuation line before any header: {line:?}", i + 2));
            };
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("line {}: not a header (`Name: value`): {line:?}", i + 2));
        };
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(format!("line {}: {name:?} is not a header name", i + 2));
        }
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    Ok(Response { version, status, reason, headers, body: Vec::new(), cut: None, notes: Vec::new() })
}

/// `HTTP/1.1 429 Too Many Requests` → ("HTTP/1.1", 429, "Too Many Requests").
fn status_line_of(line: &str) -> Result<(String, u16, String), String> {
    let example = "expected e.g. `HTTP/1.1 429 Too Many Requests`";
    let Some(after) = line.strip_prefix("HTTP/") else {
        return Err(format!("line 1 is not an HTTP status line: {line:?} ({example})"));
    };
    let (version, rest) = after.split_once(' ').unwrap_or((after, ""));
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("line 1: HTTP version {version:?} is not a version ({example})"));
    }
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("line 1: status {code:?} is not three digits ({example})"));
    }
    let status = code.parse().map_err(|_| format!("line 1: status {code:?}"))?;
    Ok((format!("HTTP/{version}"), status, reason.trim().to_owned()))
}

/// RFC 9110's `tchar`.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn read_body(response: &mut Response, body: &[u8]) {
    let chunked =
        response.header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        match dechunk(body) {
            Chunked::Whole(bytes) => {
                response.body = bytes;
                return;
            }
            Chunked::Cut(bytes) => {
                response.body = bytes;
                response.cut = Some("the chunked body stops part way (no last chunk)".into());
                return;
            }
            // `curl -si` prints the header but has already removed the coding.
            Chunked::Plain => response.notes.push("Transfer-Encoding: chunked, but the body is not in chunks (already decoded, as curl prints it): read as it is".into()),
        }
    }
    response.body = body.to_vec();
    if let Some(length) = response.header("content-length") {
        match length.trim().parse::<usize>() {
            Ok(length) if body.len() < length => {
                response.cut = Some(format!("Content-Length says {length} bytes, {} arrived", body.len()));
            }
            Ok(length) if body.len() > length => {
                response.notes.push(format!(
                    "{} bytes after the {length} of Content-Length ignored",
                    body.len() - length
                ));
                response.body.truncate(length);
            }
            Ok(_) => {}
            Err(_) => response.notes.push(format!("Content-Length {length:?} is not a number: ignored")),
        }
    }
    if response.header("content-encoding").is_some_and(|e| !e.eq_ignore_ascii_case("identity")) {
        response.notes.push(
            "the body is content-encoded (compressed?): read as it arrived; use `curl --compressed`".into(),
        );
    }
}

enum Chunked {
    Whole(Vec<u8>),
    Cut(Vec<u8>),
    Plain,
}

/// Removes the chunked transfer coding (RFC 9112 §7.1).
fn dechunk(mut body: &[u8]) -> Chunked {
    let mut out = Vec::new();
    let mut first = true;
    loop {
        let Some(nl) = body.iter().position(|&b| b == b'\n') else {
            return if first { Chunked::Plain } else { Chunked::Cut(out) };
        };
        let line = String::from_utf8_lossy(&body[..nl]);
        let size = line.trim().split(';').next().unwrap_or_default();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return if first { Chunked::Plain } else { Chunked::Cut(out) };
        };
        first = false;
        body = &body[nl + 1..];
        if size == 0 {
            return Chunked::Whole(out);
        }
        let Some(data) = body.get(..size) else {
            out.extend_from_slice(body);
            return Chunked::Cut(out);
        };
        out.extend_from_slice(data);
        body = &body[size..];
        body = body.strip_prefix(b"\r\n").or_else(|| body.strip_prefix(b"\n")).unwrap_or(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curl_response_with_crlf() {
        let r = parse(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 8\r\nContent-Length: 2\r\n\r\n{}")
            .unwrap();
        assert_eq!(
            (r.status, r.reason.as_str(), r.header("retry-after"), r.body.as_slice()),
            (429, "Too Many Requests", Some("8"), &b"{}"[..])
        );
        assert_eq!(r.cut, None);
    }

    #[test]
    fn http2_bare_newlines_and_a_continue_before_it() {
        let r = parse(b"HTTP/1.1 100 Continue\n\nHTTP/2 503 \nx-a: 1\n  folded\n\nbusy").unwrap();
        assert_eq!((r.version.as_str(), r.status, r.header("x-a")), ("HTTP/2", 503, Some("1 folded")));
        assert_eq!(r.body, b"busy");
        assert_eq!(r.notes.len(), 1);
    }

    #[test]
    fn a_short_body_is_cut_and_chunks_are_removed() {
        let r = parse(b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n{\"id\"").unwrap();
        assert!(r.cut.is_some());
        let r = parse(
            b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"e\r\n2\r\n\"}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.body.as_slice(), r.cut.as_deref()), (&b"{\"e\"}"[..], None));
        let r = parse(b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"e").unwrap();
        assert!(r.cut.is_some());
    }

    #[test]
    fn malformed_input_says_what_is_wrong() {
        assert!(parse(b"").unwrap_err().contains("no input"));
        assert!(parse(b"<html>hello</html>\n\n").unwrap_err().contains("not an HTTP status line"));
        assert!(parse(b"HTTP/1.1 42 Short\r\n\r\n").unwrap_err().contains("three digits"));
        assert!(parse(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n").unwrap_err().contains("line 2"));
        assert!(parse(b"HTTP/1.1 200 OK\r\nRetry-Af").unwrap_err().contains("middle of its headers"));
    }
}
