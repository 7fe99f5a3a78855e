//! rust-embed reads `assets/` while the crate compiles, but only files that existed then are tracked; watching the
//! directory makes a file added to it (a new page module) rebuild the crate instead of going missing.

fn main() {
    println!("cargo::rerun-if-changed=assets");
}
