//! The committed OpenAPI documents, `openapi/mobile.json` and
//! `openapi/web.json`: what the code generates (each BFF's `openapi()`,
//! the document its `/openapi.json` serves), and `bff-stack openapi`,
//! which writes them. A test fails when the committed files differ, and
//! says how to regenerate them.

use std::path::{Path, PathBuf};

use bff_shared::openapi::to_json;

/// The one command that regenerates the committed documents (from the
/// repository's root).
pub const REGENERATE: &str = "cargo run -- openapi";

/// The folder, relative to the repository's root, that holds them.
pub const DIR: &str = "openapi";

/// Each document's file name and text, as the code generates them.
pub fn documents() -> [(&'static str, String); 2] {
    [
        ("mobile.json", to_json(&bff_mobile::openapi())),
        ("web.json", to_json(&bff_web::openapi())),
    ]
}

/// Writes both documents into `dir` (created if missing); returns the
/// paths written.
pub fn write(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    documents()
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_documents_are_what_the_code_generates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
        for (name, generated) in documents() {
            let path = dir.join(name);
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != generated {
                let line = committed
                    .lines()
                    .zip(generated.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()))
                    + 1;
                panic!(
                    "{DIR}/{name} is not what the code generates (first difference at line {line}).\n\
                     Regenerate both documents from the repository's root with:\n\n    {REGENERATE}\n"
                );
            }
        }
    }

    /// Every operation of `doc`: (method, path, operation).
    fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
        let paths = doc["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().expect("path item");
                item.iter()
                    .map(|(method, op)| (method.to_uppercase(), path.clone(), op.clone()))
            })
            .collect()
    }

    /// docs/api.md#operations-endpoints: bearer on every authenticated operation, every
    /// error as problem+json, checkout's `Idempotency-Key`.
    #[test]
    fn both_documents_keep_the_contract_of_the_design() {
        for (name, text) in documents() {
            let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(doc["openapi"], "3.1.0", "{name}");
            let reasons = &doc["components"]["schemas"]["DegradedReason"]["enum"];
            assert_eq!(
                *reasons,
                serde_json::json!([
                    "timeout",
                    "circuit_open",
                    "overloaded",
                    "upstream_error",
                    "bad_response",
                    "not_found"
                ]),
                "{name}"
            );
            let mut ids = Vec::new();
            for (method, path, op) in operations(&doc) {
                let what = format!("{name}: {method} {path}");
                ids.push(op["operationId"].as_str().expect("an operation id").to_owned());
                assert!(op["tags"][0].is_string(), "{what} has a tag");
                let security = &op["security"];
                if path.starts_with("/v1/products/") {
                    assert_eq!(
                        *security,
                        serde_json::json!([{}, {"bearer": []}]),
                        "{what}: optional bearer"
                    );
                } else if path.starts_with("/v1/") {
                    assert_eq!(
                        *security,
                        serde_json::json!([{"bearer": []}]),
                        "{what}: bearer required"
                    );
                    assert!(op["responses"]["401"].is_object(), "{what} documents its 401");
                } else {
                    assert!(security.is_null(), "{what}: operations endpoints need no token");
                }
                if path.starts_with("/v1/") {
                    for status in ["429", "500"] {
                        assert!(op["responses"][status].is_object(), "{what} documents {status}");
                    }
                }
                for (status, response) in op["responses"].as_object().expect("responses") {
                    // `/readyz`'s 503 reports a state to load balancers
                    // (`{"status": "draining"}`), not an error of a request.
                    if status.as_str() < "400" || path == "/readyz" {
                        continue;
                    }
                    let content = response["content"].as_object().expect("error content");
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{what} {status}"
                    );
                    let schema = &content["application/problem+json"]["schema"];
                    assert_eq!(
                        *schema,
                        serde_json::json!({"$ref": "#/components/schemas/Problem"}),
                        "{what} {status}: the one problem schema"
                    );
                }
            }
            let count = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), count, "{name}: operation ids are unique");
            let checkout = &doc["paths"]["/v1/checkout"]["post"];
            let key = checkout["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .find(|p| p["name"] == "Idempotency-Key")
                .expect("Idempotency-Key documented");
            assert_eq!(
                (&key["in"], &key["required"]),
                (&serde_json::json!("header"), &serde_json::json!(true))
            );
        }
    }

    #[test]
    fn writing_produces_both_documents_in_the_folder() {
        let dir = std::env::temp_dir().join(format!("bff-openapi-{}", std::process::id()));
        let written = write(&dir).expect("written");
        assert_eq!(written, [dir.join("mobile.json"), dir.join("web.json")]);
        let mobile: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written[0]).expect("read")).expect("JSON");
        assert_eq!(mobile["info"]["title"], "bff-mobile");
        assert_eq!(mobile["openapi"], "3.1.0");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
