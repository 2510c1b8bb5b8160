//! Credentials for a publish, and the user name LocalClient publishes as.

use std::fmt;

use zeroize::Zeroizing;

/// How the client proves to the master that it may publish.
#[derive(Clone, Default)]
pub enum Auth {
    /// The master's key file for this user (`<cachedir>/.<user>_key`), as
    /// LocalClient uses on the master host.
    #[default]
    KeyFile,
    /// External authentication (`external_auth` in the master config).
    Eauth {
        /// The backend, e.g. `pam`, `file`, `ldap`.
        eauth: String,
        /// The user name.
        username: String,
        /// The password, zeroized on drop.
        password: Zeroizing<String>,
    },
    /// A token from `mk_token` / `salt -T`.
    Token(Zeroizing<String>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::KeyFile => f.write_str("KeyFile"),
            Auth::Eauth {
                eauth, username, ..
            } => f
                .debug_struct("Eauth")
                .field("eauth", eauth)
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// The user name LocalClient publishes as (`salt.utils.user.get_specific_user`):
/// the effective user, and `sudo_<SUDO_USER>` for root under sudo.
pub fn specific_user() -> String {
    let user = effective_user();
    if user == "root" {
        if let Ok(sudo_user) = std::env::var("SUDO_USER") {
            return format!("sudo_{sudo_user}");
        }
    }
    user
}

fn effective_user() -> String {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_string))
        });
    if let Some(euid) = euid {
        if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
            for line in passwd.lines() {
                let fields: Vec<&str> = line.split(':').collect();
                if fields.len() > 2 && fields[2] == euid {
                    return fields[0].to_string();
                }
            }
        }
        if euid == "0" {
            return "root".into();
        }
    }
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let a = Auth::Eauth {
            eauth: "file".into(),
            username: "alice".into(),
            password: Zeroizing::new("s3cret".into()),
        };
        let t = Auth::Token(Zeroizing::new("tok-123".into()));
        let shown = format!("{a:?} {t:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("tok-123"),
            "{shown}"
        );
        assert!(shown.contains("alice"));
    }

    #[test]
    fn user_name_is_found() {
        assert!(!specific_user().is_empty());
    }
}
