//! Names the build for `--version`: the package's version and, when it is
//! built from a git checkout of its own, the commit and its date
//! (`0.1.0 (4b9c763a1f 2026-11-28)`). Built without git, or from a copy
//! that is not a checkout (a source archive, a registry), the version alone.

use std::path::Path;
use std::process::Command;

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    println!("cargo:rerun-if-changed=build.rs");
    let build = match commit() {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=TENURE_VERSION={build}");
}

/// `HASH DATE` of HEAD, when this package is the top of a git checkout;
/// and tells cargo to build again when HEAD moves.
fn commit() -> Option<String> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let top = git(&["rev-parse", "--show-toplevel"])?;
    // A package vendored inside another repository is not that commit.
    if Path::new(&top).canonicalize().ok()? != Path::new(&manifest).canonicalize().ok()? {
        return None;
    }
    // HEAD, and the branch it names, live in the git dir and the common
    // dir, which differ in a worktree.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        watch(&Path::new(&dir).join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(&Path::new(&common).join(branch));
        }
        watch(&Path::new(&common).join("packed-refs"));
    }
    let hash = git(&["rev-parse", "--short=10", "HEAD"])?;
    Some(match git(&["log", "-1", "--format=%cs", "HEAD"]) {
        Some(date) => format!("{hash} {date}"),
        None => hash,
    })
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Asks cargo to run this again when `path` changes (only a path that
/// exists: a missing one would make every build run it).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
