//! The contract tests' Python (`tests/contract/`): third-party WeChat SDKs, pinned in
//! `tests/contract/requirements.txt`, in a venv of Debian's python3 (`python3-venv`; `cargo
//! xtask test` installs it). The venv is made once and cached in the target directory under
//! the hash of the requirements file, so a second run costs nothing and a changed pin builds
//! a fresh one.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use crate::repo_root;

/// The Python the venv is made from (xtask checks that it has `venv` and `ensurepip`).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// One venv creation at a time within the test binary.
static CREATING: Mutex<()> = Mutex::new(());

/// Cargo's target directory (`CARGO_TARGET_DIR`, relative to the repository, or `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                repo_root().join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| repo_root().join("target"))
}

fn contract_dir() -> PathBuf {
    repo_root().join("tests/contract")
}

/// The venv's python, creating the venv when this requirements file has none yet.
pub fn venv_python() -> Result<PathBuf> {
    let requirements = contract_dir().join("requirements.txt");
    let pins = std::fs::read(&requirements).context("reading tests/contract/requirements.txt")?;
    let venv = target_dir().join("contract-venv").join(short_hash(&pins));
    let python = venv.join("bin/python");
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    if venv.join(".complete").exists() {
        return Ok(python);
    }
    let started = std::time::Instant::now();
    // Built beside its final place and renamed into it, so an interrupted build is never used.
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let _ = std::fs::remove_dir_all(&venv); // left incomplete by an interrupted run
    std::fs::create_dir_all(building.parent().expect("venv has a parent"))?;
    run(Command::new(SYSTEM_PYTHON)
        .arg("-m")
        .arg("venv")
        .arg(&building))
    .context("python3 -m venv (Debian: apt-get install -y python3-venv)")?;
    run(Command::new(building.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args([
            "--no-input",
            "--timeout",
            "60",
            "--no-deps",
            "--requirement",
        ])
        .arg(&requirements))
    .context("pip install -r tests/contract/requirements.txt")?;
    std::fs::write(building.join(".complete"), "")?;
    if std::fs::rename(&building, &venv).is_err() {
        // Another process finished first: use its venv.
        let _ = std::fs::remove_dir_all(&building);
    }
    eprintln!(
        "contract venv: created {} in {:.1} s",
        venv.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(python)
}

/// Runs `python -m unittest -v <module>` in `tests/contract` with `envs` added; its output goes
/// straight to this process's stdout/stderr (visible in the test command's log).
pub fn unittest(module: &str, envs: &[(&str, String)]) -> Result<()> {
    let python = venv_python()?;
    let status = Command::new(&python)
        .args(["-m", "unittest", "-v", module])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .current_dir(contract_dir())
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("starting {}", python.display()))?;
    if !status.success() {
        bail!("tests/contract/{module}.py failed ({status}); its unittest output is above");
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        bail!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The first 8 bytes of the SHA-256 of the requirements file, in hex.
fn short_hash(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
