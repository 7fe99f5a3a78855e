//! The layering rules of docs/ARCHITECTURE.md, checked against `cargo metadata` so that a stray dependency fails
//! the build's tests rather than a code review.

use std::collections::{BTreeSet, HashMap, VecDeque};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, PackageId};

const INFRASTRUCTURE: [&str; 5] = ["actix-web", "sea-orm", "sqlx", "biscuit-auth", "sea-orm-migration"];

fn metadata() -> Metadata {
    MetadataCommand::new()
        .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"))
        .exec()
        .expect("cargo metadata runs")
}

/// Names of every package reachable from `root` through normal (non-dev, non-build) dependencies.
fn normal_dependency_closure(metadata: &Metadata, root: &str) -> BTreeSet<String> {
    let resolve = metadata.resolve.as_ref().expect("metadata has a resolve graph");
    let nodes: HashMap<&PackageId, _> = resolve.nodes.iter().map(|node| (&node.id, node)).collect();
    let names: HashMap<&PackageId, &str> =
        metadata.packages.iter().map(|package| (&package.id, package.name.as_str())).collect();
    let root_id =
        metadata.packages.iter().find(|package| package.name.as_str() == root).expect("root package").id.clone();

    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([root_id]);
    let mut visited = BTreeSet::new();
    while let Some(id) = queue.pop_front() {
        if !visited.insert(id.clone()) {
            continue;
        }
        for dependency in &nodes[&id].deps {
            let is_normal = dependency.dep_kinds.iter().any(|kind| kind.kind == DependencyKind::Normal);
            if is_normal {
                seen.insert(names[&dependency.pkg].to_owned());
                queue.push_back(dependency.pkg.clone());
            }
        }
    }
    seen
}

fn assert_no_dependency_on(metadata: &Metadata, package: &str, forbidden: &[&str]) {
    let closure = normal_dependency_closure(metadata, package);
    let offending: Vec<_> = forbidden.iter().filter(|name| closure.contains(**name)).collect();
    assert!(offending.is_empty(), "{package} must not depend on {offending:?}");
}

#[test]
fn domain_depends_on_no_http_sql_or_token_infrastructure() {
    let metadata = metadata();
    let closure = normal_dependency_closure(&metadata, "latchkey-domain");
    assert!(closure.contains("argon2"), "the closure walk found the domain's own dependencies");
    assert_no_dependency_on(&metadata, "latchkey-domain", &INFRASTRUCTURE);
    assert!(!closure.iter().any(|name| name.starts_with("latchkey-")), "domain depends on no internal crate");
}

#[test]
fn api_crates_depend_on_neither_the_store_nor_each_other() {
    let metadata = metadata();
    let forbidden = ["latchkey-store", "latchkey-migrations", "sea-orm", "sqlx"];
    assert_no_dependency_on(
        &metadata,
        "latchkey-account-api",
        &[&forbidden[..], &["latchkey-management-api"]].concat(),
    );
    assert_no_dependency_on(
        &metadata,
        "latchkey-management-api",
        &[&forbidden[..], &["latchkey-account-api"]].concat(),
    );
}

#[test]
fn the_store_knows_nothing_of_http_or_the_apis() {
    let metadata = metadata();
    assert_no_dependency_on(
        &metadata,
        "latchkey-store",
        &["actix-web", "latchkey-account-api", "latchkey-management-api", "latchkey-auth"],
    );
}

#[test]
fn migrations_depend_on_no_internal_crate() {
    let metadata = metadata();
    let closure = normal_dependency_closure(&metadata, "latchkey-migrations");
    let internal: Vec<_> = closure.iter().filter(|name| name.starts_with("latchkey-")).collect();
    assert!(internal.is_empty(), "migrations depend on {internal:?}");
}

#[test]
fn the_account_page_depends_on_no_internal_crate() {
    let metadata = metadata();
    let closure = normal_dependency_closure(&metadata, "latchkey-account-page");
    assert!(closure.contains("rust-embed"), "the closure walk found the account page's own dependencies");
    let internal: Vec<_> = closure.iter().filter(|name| name.starts_with("latchkey-")).collect();
    assert!(internal.is_empty(), "the account page depends on {internal:?}");
}

#[test]
fn the_embedding_example_uses_no_http_server() {
    let metadata = metadata();
    assert_no_dependency_on(&metadata, "latchkey-example-embedded", &["actix-web", "latchkey-server"]);
}
