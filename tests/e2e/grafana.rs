//! `deploy/grafana/bff.json` against the BFFs themselves: the dashboard
//! imports (a `${DS_PROMETHEUS}` input, schema 39, unique panel ids), every
//! metric its PromQL queries is one the BFFs export, and every family they
//! export has a panel, so neither side can drift.

use std::collections::BTreeSet;

use bff_stack::simulator::{Fault, Service};
use serde_json::Value;

use crate::support::{Bff, spawn};

fn dashboard() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/bff.json");
    let text = std::fs::read_to_string(path).expect("deploy/grafana/bff.json");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every string under a key called `key`, at any depth.
fn strings_under<'a>(node: &'a Value, key: &str, out: &mut Vec<&'a str>) {
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == key => out.push(s),
                    _ => strings_under(v, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

/// The `bff_*` metric names a PromQL expression mentions.
fn metric_names(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("bff_"))
}

/// The families `/metrics` declares, and which of them are histograms.
fn exported(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut families = BTreeSet::new();
    let mut histograms = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                families.insert(name.to_owned());
                if kind == "histogram" {
                    histograms.insert(name.to_owned());
                }
            }
        }
    }
    (families, histograms)
}

#[tokio::test]
async fn the_dashboard_is_importable_with_a_prometheus_input() {
    let dashboard = dashboard();
    assert_eq!(dashboard["schemaVersion"], 39);
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus");
    let panels = dashboard["panels"].as_array().expect("panels");
    let ids: BTreeSet<u64> = panels.iter().map(|p| p["id"].as_u64().expect("id")).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", panel["title"]);
        assert!(panel["gridPos"]["w"].as_u64().is_some(), "{}", panel["title"]);
        assert!(!panel["targets"].as_array().expect("targets").is_empty());
    }
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exported_and_every_family_is_shown() {
    let dashboard = dashboard();
    let mut exprs = Vec::new();
    strings_under(&dashboard, "expr", &mut exprs);
    strings_under(&dashboard, "definition", &mut exprs);
    let queried: BTreeSet<&str> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert!(queried.len() >= 10, "{queried:?}");

    for bff in [Bff::Mobile, Bff::Web] {
        let stack = spawn(bff).await;
        // Traffic that fills every family, a degraded section included.
        stack.sim.set_fault(Service::Pricing, Fault::always(503));
        let product = stack.get("/v1/products/p-1", None, &[]).await;
        assert_eq!(product.status, 200, "{}", product.text);
        let text = stack.get("/metrics", None, &[]).await.text;
        let (families, histograms) = exported(&text);
        for name in &queried {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| histograms.contains(*base));
            assert!(
                families.contains(*name) || base.is_some(),
                "{bff:?}: the dashboard queries {name}, which /metrics does not export:\n{text}"
            );
        }
        for family in &families {
            let shown = queried
                .iter()
                .any(|q| q == family || q.strip_suffix("_bucket") == Some(family.as_str()));
            assert!(shown, "{bff:?} exports {family}, which no dashboard panel shows");
        }
    }
}
