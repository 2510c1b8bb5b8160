//! saltwire's own keys for peer mode: an RSA key pair per id, and the master
//! keys pinned on first use, in a directory only its owner can read.
//!
//! Layout of the key directory (mode 0700):
//!
//! * `<id>.pem`: the private key (PKCS#1 PEM, mode 0600; refused when others
//!   can read it, as ssh refuses such a key),
//! * `<id>.pub`: the public key (SPKI PEM), what `salt-key` shows on the master,
//! * `id`: the id `key init` made last, used when `--id` is not given,
//! * `masters/<host>_<port>.pub`: the master key pinned on first contact.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use saltwire_transport::wire::crypto::{PrivateKey, PublicKey};

use crate::error::Error;

/// RSA key size, as `salt-key` and minions use by default.
pub const KEY_BITS: usize = 2048;

/// The key directory.
#[derive(Clone, Debug)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// `$SALTWIRE_HOME`, else `~/.config/saltwire`.
    pub fn default_dir() -> PathBuf {
        if let Ok(dir) = std::env::var("SALTWIRE_HOME") {
            return PathBuf::from(dir);
        }
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        PathBuf::from(home).join(".config/saltwire")
    }

    /// The store in `dir` (created with mode 0700 when missing).
    pub fn open(dir: &Path) -> Result<KeyStore, Error> {
        if !dir.exists() {
            fs::create_dir_all(dir)
                .map_err(|e| Error::config(dir, format!("cannot create the key directory: {e}")))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::config(dir, format!("cannot set mode 0700: {e}")))?;
        }
        Ok(KeyStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of an id's private key.
    pub fn private_key_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.pem"))
    }

    /// Path of an id's public key.
    pub fn public_key_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.pub"))
    }

    /// Creates a key pair for `id`; refuses to overwrite one.
    pub fn init(&self, id: &str) -> Result<PrivateKey, Error> {
        check_id(id)?;
        let private_path = self.private_key_path(id);
        if private_path.exists() {
            return Err(Error::config(
                &private_path,
                format!("a key for `{id}` exists already; use it, or remove it to make a new one"),
            ));
        }
        let key = PrivateKey::generate(&mut rand_core::OsRng, KEY_BITS)
            .map_err(|e| Error::Usage(format!("cannot generate a key: {e}")))?;
        let pem = key
            .to_pem()
            .map_err(|e| Error::Usage(format!("cannot encode the key: {e}")))?;
        write_file(&private_path, pem.as_bytes(), 0o600)?;
        write_file(
            &self.public_key_path(id),
            key.public_key().to_pem().as_bytes(),
            0o644,
        )?;
        write_file(&self.dir.join("id"), format!("{id}\n").as_bytes(), 0o644)?;
        Ok(key)
    }

    /// The id `key init` made last.
    pub fn default_id(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("id"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Loads an id's private key, refusing one that others can read.
    pub fn load(&self, id: &str) -> Result<PrivateKey, Error> {
        check_id(id)?;
        let path = self.private_key_path(id);
        let meta = fs::metadata(&path).map_err(|e| {
            Error::config(
                &path,
                format!("no key for `{id}` ({e}); create one with `saltwire key init --id {id}`"),
            )
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::config(
                &path,
                format!("permissions {mode:04o} are too open: the private key must not be readable by others (run `chmod 600 {}`)", path.display()),
            ));
        }
        let pem = zeroize::Zeroizing::new(
            fs::read_to_string(&path).map_err(|e| Error::config(&path, e.to_string()))?,
        );
        PrivateKey::from_pem(&pem)
            .map_err(|e| Error::config(&path, format!("not a usable private key: {e}")))
    }

    /// Where the master at `master` (`host:port`) has its key pinned.
    pub fn pinned_master_path(&self, master: &str) -> PathBuf {
        let name: String = master
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join("masters").join(format!("{name}.pub"))
    }

    /// The pinned key of a master, if there is one.
    pub fn pinned_master(&self, master: &str) -> Result<Option<PublicKey>, Error> {
        let path = self.pinned_master_path(master);
        match fs::read_to_string(&path) {
            Ok(pem) => PublicKey::from_pem(&pem).map(Some).map_err(|e| {
                Error::config(
                    &path,
                    format!("not a public key ({e}); remove it to pin the master again"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::config(&path, e.to_string())),
        }
    }

    /// Pins a master's key (first use).
    pub fn pin_master(&self, master: &str, key: &PublicKey) -> Result<(), Error> {
        let path = self.pinned_master_path(master);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::config(dir, e.to_string()))?;
        }
        write_file(&path, key.to_pem().as_bytes(), 0o644)
    }
}

fn check_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.contains(['/', '\\', '\0']) || id.starts_with('.') {
        return Err(Error::Usage(format!(
            "`{id}` is not a usable minion id (no slashes, not empty, not starting with a dot)"
        )));
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::config(path, format!("cannot write: {e}")))?;
    file.write_all(bytes)
        .map_err(|e| Error::config(path, format!("cannot write: {e}")))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::config(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_and_pins_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("keys")).unwrap();
        assert_eq!(
            fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let key = store.init("saltwire-ci").unwrap();
        assert_eq!(store.default_id().as_deref(), Some("saltwire-ci"));
        assert!(
            store.init("saltwire-ci").is_err(),
            "an existing key must not be overwritten"
        );
        let path = store.private_key_path("saltwire-ci");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            store.load("saltwire-ci").unwrap().public_key().to_pem(),
            key.public_key().to_pem()
        );

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load("saltwire-ci").unwrap_err().to_string();
        assert!(
            err.contains("too open") && err.contains("chmod 600"),
            "{err}"
        );

        assert!(store.pinned_master("127.0.0.1:4506").unwrap().is_none());
        store
            .pin_master("127.0.0.1:4506", &key.public_key())
            .unwrap();
        assert_eq!(
            store
                .pinned_master("127.0.0.1:4506")
                .unwrap()
                .unwrap()
                .to_pem(),
            key.public_key().to_pem()
        );
        assert!(store.load("../etc").is_err());
    }
}
