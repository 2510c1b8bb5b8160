use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::LabError;

/// Salt releases the lab (and `scripts/salt-venv.sh`) supports.
pub const SUPPORTED_SALT_VERSIONS: &[&str] = &["3006.29", "3007.16", "3008.4"];

/// The Salt release used when neither the options nor `SALT_VERSION` say.
pub const DEFAULT_SALT_VERSION: &str = "3008.4";

/// Marker `scripts/salt-venv.sh` writes into a venv once its install is complete.
const VENV_MARKER: &str = ".saltwire-venv-ok";

/// The workspace root (the directory holding `scripts/` and `.venvs/`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("scripts/salt-venv.sh").is_file())
        .unwrap_or_else(|| manifest.parent().and_then(Path::parent).unwrap_or(manifest))
        .to_path_buf()
}

/// Where the venv for `version` lives.
pub fn venv_dir(version: &str) -> PathBuf {
    repo_root().join(".venvs").join(format!("salt-{version}"))
}

/// Returns the venv for Salt `version`, running `scripts/salt-venv.sh` first
/// if it is missing or half-installed (that takes a couple of minutes).
pub fn ensure_venv(version: &str) -> Result<PathBuf, LabError> {
    let venv = venv_dir(version);
    if !SUPPORTED_SALT_VERSIONS.contains(&version) {
        return Err(LabError::Venv {
            version: version.to_owned(),
            path: venv,
            message: format!(
                "unsupported version (supported: {})",
                SUPPORTED_SALT_VERSIONS.join(", ")
            ),
        });
    }
    let complete = || {
        venv.join("bin/salt-master").is_file()
            && std::fs::read_to_string(venv.join(VENV_MARKER)).is_ok_and(|v| v.trim() == version)
    };
    if complete() {
        return Ok(venv);
    }
    let script = repo_root().join("scripts/salt-venv.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(version)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| LabError::Venv {
            version: version.to_owned(),
            path: venv.clone(),
            message: format!("cannot run {}: {e}", script.display()),
        })?;
    if !status.success() || !complete() {
        return Err(LabError::Venv {
            version: version.to_owned(),
            path: venv.clone(),
            message: format!("{} exited with {status}", script.display()),
        });
    }
    Ok(venv)
}
