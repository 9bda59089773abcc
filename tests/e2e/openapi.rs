//! The OpenAPI documents and the docs page, as each BFF serves them: the
//! document is the generated one, every documented operation is routed,
//! the examples are what the simulator's data gives, and `/docs` is served
//! from the binary without auth or rate limiting.

use bff_shared::openapi::{EXAMPLE_REQUEST_ID, to_json};
use serde_json::Value;

use crate::support::{Answer, Bff, Stack, spawn, spawn_with, token};

const BOTH: [Bff; 2] = [Bff::Mobile, Bff::Web];

fn document(bff: Bff) -> Value {
    let doc = match bff {
        Bff::Mobile => bff_mobile::openapi(),
        Bff::Web => bff_web::openapi(),
    };
    serde_json::to_value(doc).expect("serialisable")
}

/// Every documented operation: method, path template and the operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            out.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    out
}

/// `path` with each `{param}` replaced by the parameter's documented example.
fn example_path(path: &str, operation: &Value) -> String {
    let mut path = path.to_owned();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] == "path" {
            let example = parameter["example"].as_str().expect("path parameters have an example");
            path = path.replace(&format!("{{{}}}", parameter["name"].as_str().unwrap()), example);
        }
    }
    path
}

/// Sends `method path` as `u-1` with the operation's documented examples
/// (headers, body) and our example request id.
async fn send_example(stack: &Stack, method: &str, path: &str, operation: &Value) -> Answer {
    let url = stack.url(&example_path(path, operation));
    let mut request = match method {
        "GET" => stack.http.get(url),
        "POST" => stack.http.post(url),
        other => panic!("no example request for {other}"),
    };
    request = request
        .bearer_auth(token("u-1"))
        .header("x-request-id", EXAMPLE_REQUEST_ID);
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] == "header" && parameter["required"] == true {
            request = request.header(
                parameter["name"].as_str().unwrap(),
                parameter["example"].as_str().unwrap(),
            );
        }
    }
    if let Some(body) = operation["requestBody"]["content"]["application/json"]["example"].as_object() {
        request = request.json(body);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Answer { status, headers, text }
}

/// Whether `example` is `actual` with some lists shortened: objects have
/// exactly the same keys, a list is a prefix of the actual one, and every
/// other value is equal. The error names the first place they differ.
fn is_sample(example: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let (ek, ak): (Vec<_>, Vec<_>) = (e.keys().collect(), a.keys().collect());
            if ek != ak {
                return Err(format!("{at}: keys {ek:?} documented, {ak:?} answered"));
            }
            e.iter()
                .try_for_each(|(k, v)| is_sample(v, &a[k], &format!("{at}.{k}")))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() > a.len() {
                return Err(format!("{at}: {} items documented, {} answered", e.len(), a.len()));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .try_for_each(|(i, (e, a))| is_sample(e, a, &format!("{at}[{i}]")))
        }
        _ if example == actual => Ok(()),
        _ => Err(format!("{at}: {example} documented, {actual} answered")),
    }
}

#[tokio::test]
async fn each_bff_serves_the_document_its_code_generates_without_auth_or_rate_limiting() {
    for bff in BOTH {
        // A bucket of one: a limited route would refuse the second request.
        let stack = spawn_with(bff, &[("BFF_RATE_LIMIT_RPS", "1"), ("BFF_RATE_LIMIT_BURST", "1")]).await;
        let generated = to_json(&match bff {
            Bff::Mobile => bff_mobile::openapi(),
            Bff::Web => bff_web::openapi(),
        });
        for _ in 0..3 {
            let answer = stack.get("/openapi.json", None, &[]).await;
            assert_eq!(answer.status, 200, "{bff:?}");
            assert_eq!(answer.header("content-type"), Some("application/json"));
            assert_eq!(
                answer.header("ratelimit-limit"),
                None,
                "{bff:?}: /openapi.json is not rate limited"
            );
            assert!(
                answer.text == generated,
                "{bff:?}: /openapi.json is not the generated document"
            );
            let docs = stack.get("/docs", None, &[]).await;
            assert_eq!(docs.status, 200, "{bff:?}");
            assert_eq!(
                docs.header("ratelimit-limit"),
                None,
                "{bff:?}: /docs is not rate limited"
            );
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_with_its_method() {
    for bff in BOTH {
        let stack = spawn(bff).await;
        let doc = document(bff);
        let operations = operations(&doc);
        assert_eq!(
            operations.len(),
            11,
            "{bff:?}: four API operations and seven operations endpoints"
        );
        for (method, path, operation) in operations {
            let answer = send_example(&stack, &method, &path, &operation).await;
            let documented = &operation["responses"][answer.status.to_string()];
            assert!(
                documented.is_object(),
                "{bff:?} {method} {path}: {} is not documented: {}",
                answer.status,
                answer.text
            );
            assert!(
                answer.status < 400,
                "{bff:?} {method} {path} with its examples: {} {}",
                answer.status,
                answer.text
            );
        }
    }
}

#[tokio::test]
async fn the_documented_examples_are_what_the_simulator_answers() {
    for bff in BOTH {
        let stack = spawn(bff).await;
        let doc = document(bff);
        let mut compared = 0;
        // Reads first: the checkout example places an order, which would
        // then head the user's order lists.
        let mut operations = operations(&doc);
        operations.sort_by_key(|(method, _, _)| method != "GET");
        for (method, path, operation) in operations {
            let Some((status, documented)) = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
            else {
                continue;
            };
            let Some(example) = documented["content"]["application/json"]["example"].as_object() else {
                continue;
            };
            let example = Value::Object(example.clone());
            let answer = send_example(&stack, &method, &path, &operation).await;
            assert_eq!(
                answer.status.to_string(),
                *status,
                "{bff:?} {method} {path}: {}",
                answer.text
            );
            if let Err(difference) = is_sample(&example, &answer.json(), "") {
                panic!("{bff:?} {method} {path}: the example is not the simulator's answer: {difference}");
            }
            compared += 1;
        }
        // Every API operation and the JSON operations endpoints.
        assert_eq!(compared, 6, "{bff:?}: examples compared");
    }
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() {
    for bff in BOTH {
        let stack = spawn(bff).await;
        let page = stack.get("/docs", None, &[]).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(page.text.contains("<base href=\"/docs/\" />"), "{}", page.text);
        let title = format!(
            "<title>{}: API documentation</title>",
            document(bff)["info"]["title"].as_str().unwrap()
        );
        assert!(
            page.text.contains(&title),
            "{bff:?}: {title} missing from {}",
            page.text
        );
        let mut assets = Vec::new();
        let without_base = page.text.replace("<base href=\"/docs/\" />", "");
        for attribute in ["src=\"", "href=\""] {
            for part in without_base.split(attribute).skip(1) {
                let url = part.split('"').next().unwrap();
                assert!(!url.contains("//"), "{bff:?}: /docs loads {url} from elsewhere");
                assets.push(format!("/docs/{}", url.trim_start_matches("./")));
            }
        }
        assert!(assets.len() >= 5, "{assets:?}");
        for asset in &assets {
            let answer = stack.get(asset, None, &[]).await;
            assert_eq!(answer.status, 200, "{bff:?} {asset}");
        }
        let init = stack.get("/docs/swagger-initializer.js", None, &[]).await;
        for setting in [
            "\"url\": \"/openapi.json\"",
            "\"docExpansion\": \"list\"",
            "\"validatorUrl\": \"none\"",
        ] {
            assert!(
                init.text.contains(setting),
                "{bff:?}: {setting} missing from\n{}",
                init.text
            );
        }
        stack
            .get("/docs/no-such-file.js", None, &[])
            .await
            .assert_problem(404, "not_found");
    }
}

#[test]
fn every_error_response_is_the_one_problem_schema_with_its_codes_described_and_exemplified() {
    for bff in BOTH {
        let doc = document(bff);
        let every_code = doc["components"]["schemas"]["ProblemCode"]["enum"]
            .as_array()
            .expect("a ProblemCode enum");
        let mut responses = 0;
        for (method, path, operation) in operations(&doc) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let Some(content) = response["content"].get("application/problem+json") else {
                    continue;
                };
                let at = format!("{bff:?} {method} {path} {status}");
                assert_eq!(
                    content["schema"],
                    serde_json::json!({"$ref": "#/components/schemas/Problem"}),
                    "{at}: a plain $ref to the one Problem schema"
                );
                let codes = response["x-problem-codes"].as_array().expect("x-problem-codes");
                let examples = content["examples"].as_object().expect("examples");
                assert_eq!(codes.len(), examples.len(), "{at}: one example per code");
                let description = response["description"].as_str().unwrap();
                for code in codes {
                    let code = code.as_str().unwrap();
                    assert!(
                        every_code.iter().any(|c| c == code),
                        "{at}: {code} is not a ProblemCode"
                    );
                    assert!(
                        description.contains(&format!("- `{code}`: ")),
                        "{at}: {code} undescribed"
                    );
                    let example = &examples[code]["value"];
                    assert_eq!(example["code"], code, "{at}");
                    assert_eq!(example["status"].to_string(), *status, "{at}");
                }
                responses += 1;
            }
        }
        assert!(responses >= 20, "{bff:?}: {responses} problem responses");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let problem_like: Vec<_> = schemas.keys().filter(|k| k.contains("Problem")).collect();
        assert_eq!(problem_like, ["Problem", "ProblemCode"], "{bff:?}");
    }
}

#[tokio::test]
async fn a_composite_answer_carries_the_headers_its_document_names_with_the_sections_it_times() {
    for bff in BOTH {
        let stack = spawn(bff).await;
        let doc = document(bff);
        let mut checked = 0;
        for (method, path, operation) in operations(&doc) {
            let headers = &operation["responses"]["200"]["headers"];
            let Some(timing) = headers["Server-Timing"]["description"].as_str() else {
                continue;
            };
            assert!(headers["X-Partial-Response"].is_object(), "{bff:?} {path}");
            let mut documented: Vec<&str> = timing
                .split(": ")
                .nth(1)
                .expect("a list of sections")
                .split(", ")
                .map(|s| s.trim_matches('`'))
                .collect();
            documented.sort_unstable();
            let answer = send_example(&stack, &method, &path, &operation).await;
            assert_eq!(answer.status, 200, "{bff:?} {path}: {}", answer.text);
            let mut timed: Vec<&str> = answer
                .header("server-timing")
                .expect("Server-Timing")
                .split(',')
                .map(|entry| entry.trim().split(';').next().unwrap())
                .collect();
            timed.sort_unstable();
            assert_eq!(timed, documented, "{bff:?} {path}: Server-Timing sections");
            for name in headers.as_object().unwrap().keys() {
                if name != "X-Partial-Response" {
                    assert!(
                        answer.header(name).is_some(),
                        "{bff:?} {path}: {name} documented, not sent"
                    );
                }
            }
            checked += 1;
        }
        assert_eq!(checked, 2, "{bff:?}: the home/dashboard and the product page");
    }
}
