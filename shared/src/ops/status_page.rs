//! The HTML of `GET /status`: one self-contained page (inline CSS, no
//! script, no font or image from anywhere) with one row per upstream. It
//! reloads itself every 5 s with `<meta http-equiv="refresh">`, so it needs
//! no JavaScript and works offline. Every text that comes from
//! configuration (names, the version) is HTML-escaped.

use std::fmt::Write;

use super::status::{BreakerLabel, Status};

/// Seconds between reloads.
const REFRESH_S: u32 = 5;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d1d1f;background:#fafafa}\
h1{font-size:1.4em;margin:0 0 .2em}p{margin:.2em 0 1em;color:#555}\
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 3px #0002}\
th,td{padding:.45em 1em;border-bottom:1px solid #e5e5e5;text-align:right}\
th{background:#f0f0f0;font-weight:600}th:first-child,td:first-child{text-align:left}th:nth-child(2),td:nth-child(2){text-align:center}\
.b{display:inline-block;min-width:6em;padding:.15em .6em;border-radius:1em;font-weight:600;text-align:center;color:#fff}\
.b.closed{background:#1e8e3e}.b.open{background:#d93025}.b.half_open{background:#e37400}\
tr.open td{background:#fdecea}tr.half_open td{background:#fef3e0}.none{color:#999}";

/// The page for `status`.
pub(super) fn render(status: &Status) -> String {
    let mut html = String::with_capacity(2048 + 512 * status.upstreams.len());
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">\
<title>{service} status</title><style>{STYLE}</style></head><body>\
<h1>{service} {version}</h1>\
<p>Up {uptime}. Upstreams over the last 60 s; this page reloads every {REFRESH_S} s \
(the same figures as JSON: <a href=\"/status.json\">/status.json</a>).</p>\
<table id=\"upstreams\"><thead><tr><th>upstream</th><th>breaker</th><th>in flight / cap</th>\
<th>calls/s</th><th>errors</th><th>p50</th><th>p99</th></tr></thead><tbody>",
        service = escape(&status.service),
        version = escape(&status.version),
        uptime = uptime(status.uptime_s),
    );
    for upstream in &status.upstreams {
        let state = upstream.breaker.as_str();
        // No attempt in the window: the JSON's zeros are shown as "none".
        let measured = upstream.calls_per_s > 0.0;
        let _ = write!(
            html,
            "<tr class=\"upstream {state}\" data-upstream=\"{name}\" data-breaker=\"{state}\">\
<td>{name}</td><td><span class=\"b {state}\">{label}</span></td><td>{in_flight} / {cap}</td>\
<td>{calls:.2}</td><td>{errors}</td><td>{p50}</td><td>{p99}</td></tr>",
            name = escape(&upstream.name),
            label = label(upstream.breaker),
            in_flight = upstream.in_flight,
            cap = upstream.max_in_flight,
            calls = upstream.calls_per_s,
            errors = or_none(measured.then(|| format!("{:.1} %", upstream.error_ratio * 100.0))),
            p50 = or_none(measured.then(|| ms(upstream.p50_ms))),
            p99 = or_none(measured.then(|| ms(upstream.p99_ms))),
        );
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}

/// The breaker's state in words (the colour says it too, but not alone).
fn label(state: BreakerLabel) -> &'static str {
    match state {
        BreakerLabel::Closed => "closed",
        BreakerLabel::Open => "OPEN",
        BreakerLabel::HalfOpen => "half-open",
    }
}

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else {
        format!("{value:.0} ms")
    }
}

fn or_none(value: Option<String>) -> String {
    value.unwrap_or_else(|| "<span class=\"none\">–</span>".to_owned())
}

fn uptime(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// `text` safe inside an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::status::UpstreamStatus;
    use super::*;

    fn row(name: &str, breaker: BreakerLabel) -> UpstreamStatus {
        UpstreamStatus {
            name: name.to_owned(),
            breaker,
            in_flight: 1,
            max_in_flight: 8,
            calls_per_s: 2.5,
            error_ratio: 0.25,
            p50_ms: 3.5,
            p99_ms: 120.0,
        }
    }

    #[test]
    fn the_page_has_one_row_per_upstream_and_escapes_what_it_did_not_write() {
        let status = Status {
            service: "bff<script>".into(),
            version: "1\"2".into(),
            uptime_s: 3725,
            upstreams: vec![row("users", BreakerLabel::Closed), row("<b>x</b>", BreakerLabel::Open)],
        };
        let html = render(&status);
        assert_eq!(html.matches("<tr class=\"upstream ").count(), 2);
        assert!(html.contains("data-upstream=\"&lt;b&gt;x&lt;/b&gt;\" data-breaker=\"open\""));
        assert!(!html.contains("<script") && !html.contains("<b>x"));
        assert!(html.contains("bff&lt;script&gt; 1&quot;2"));
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(html.contains("25.0 %") && html.contains("3.50 ms") && html.contains("120 ms"));
        assert!(html.contains("1 h 2 min"));
        // Nothing from elsewhere: no URL but our own JSON.
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="));
    }
}
