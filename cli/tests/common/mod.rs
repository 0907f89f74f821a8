//! Helpers shared by the CLI test binaries: running `shoukuan`, reading the vectors copied
//! under `core/tests/vectors`, and checking the output contract.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// The `shoukuan` binary built by this package.
pub fn shoukuan() -> Command {
    Command::cargo_bin("shoukuan").unwrap()
}

/// The vectors of one file (read at test time from core's verbatim copy).
pub fn vectors(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/vectors")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap();
    json["vectors"].as_array().unwrap().clone()
}

/// A string field of a vector.
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector {} lacks string field {key}", v["id"]))
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Asserts exit 0 and returns stdout without its final newline.
pub fn success(output: Output) -> String {
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "expected success, got {:?}: {stderr}",
        output.status.code()
    );
    assert!(stderr.is_empty(), "unexpected stderr: {stderr}");
    stdout.strip_suffix('\n').unwrap_or(&stdout).to_string()
}

/// Asserts exit 1 with exactly one stderr line containing `needle`; returns that line.
pub fn failure(output: Output, needle: &str) -> String {
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected exit 1; stderr: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one stderr line, got: {stderr:?}"
    );
    assert!(stderr.ends_with('\n'));
    assert!(
        stderr.to_lowercase().contains(&needle.to_lowercase()),
        "stderr {stderr:?} does not mention {needle:?}"
    );
    stderr.trim_end().to_string()
}
