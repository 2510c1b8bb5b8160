//! Shared command-line pieces: credentials, function arguments, durations.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use saltwire_job::Auth;
use saltwire_transport::Value;
use zeroize::Zeroizing;

/// How to authenticate a publish. Without any of these, the master's key file is used.
#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// External auth backend (e.g. pam, file, ldap); needs --username.
    #[arg(long, global = true, requires = "username")]
    eauth: Option<String>,
    /// The eauth user name.
    #[arg(long, global = true)]
    username: Option<String>,
    /// Read the eauth password from this file (first line).
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Read the eauth password from this environment variable.
    #[arg(long, global = true, value_name = "VAR")]
    password_env: Option<String>,
    /// Authenticate with a token: from $SALT_TOKEN, else ~/.salt_token (written by `salt -T`).
    #[arg(long, global = true, conflicts_with = "eauth")]
    token: bool,
}

impl AuthArgs {
    /// The credentials, read from where the flags say. Never from argv.
    pub fn resolve(&self) -> Result<Auth, String> {
        if self.token {
            if let Ok(t) = std::env::var("SALT_TOKEN") {
                return Ok(Auth::Token(Zeroizing::new(t.trim().to_string())));
            }
            let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
            let path = PathBuf::from(home).join(".salt_token");
            return std::fs::read_to_string(&path)
                .map(|t| Auth::Token(Zeroizing::new(t.trim().to_string())))
                .map_err(|e| {
                    format!(
                        "--token: set SALT_TOKEN or create {} with `salt -T` ({e})",
                        path.display()
                    )
                });
        }
        let Some(eauth) = self.eauth.clone() else {
            if self.username.is_some()
                || self.password_file.is_some()
                || self.password_env.is_some()
            {
                return Err("--username and --password-* need --eauth BACKEND".into());
            }
            return Ok(Auth::KeyFile);
        };
        let username = self.username.clone().unwrap_or_default();
        let password = if let Some(path) = &self.password_file {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--password-file {}: {e}", path.display()))?,
            );
            Zeroizing::new(text.lines().next().unwrap_or("").to_string())
        } else if let Some(var) = &self.password_env {
            Zeroizing::new(
                std::env::var(var).map_err(|_| format!("--password-env: ${var} is not set"))?,
            )
        } else if std::io::stdin().is_terminal() {
            prompt_password(&username)?
        } else {
            return Err("--eauth needs a password: use --password-file FILE or --password-env VAR (or run on a terminal to be prompted)".into());
        };
        Ok(Auth::Eauth {
            eauth,
            username,
            password,
        })
    }
}

fn prompt_password(username: &str) -> Result<Zeroizing<String>, String> {
    eprint!("Password for {username}: ");
    // Turn echo off for the prompt when stty is there; the password is read either way.
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let echo_off = stty("-echo");
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin().read_line(&mut line);
    if echo_off {
        stty("echo");
    }
    eprintln!();
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

/// Parses a duration in seconds (`5`, `0.5`).
pub fn seconds(text: &str) -> Result<Duration, String> {
    let s: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(s.is_finite() && s >= 0.0) || s > 1e9 {
        return Err(format!("`{text}` is not a usable number of seconds"));
    }
    Ok(Duration::from_secs_f64(s))
}

/// Splits CLI function arguments into positional args and `key=value` kwargs,
/// reading each value as YAML the way `salt` does.
pub fn parse_fun_args(raw: &[String]) -> (Vec<Value>, Vec<(String, Value)>) {
    let mut args = Vec::new();
    let mut kwargs = Vec::new();
    for item in raw {
        match split_kwarg(item) {
            Some((k, v)) => kwargs.push((k.to_string(), yamlify(v))),
            None => args.push(yamlify(item)),
        }
    }
    (args, kwargs)
}

/// `key=value` where key is an identifier (dots and dashes allowed after the
/// first character) and the `=` is not part of `==`.
fn split_kwarg(item: &str) -> Option<(&str, &str)> {
    let (key, value) = item.split_once('=')?;
    let mut chars = key.chars();
    let first = chars.next()?;
    if !(first.is_alphabetic() || first == '_') || value.starts_with('=') {
        return None;
    }
    if !chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return None;
    }
    Some((key, value))
}

/// Salt's `yamlify_arg`: numbers, booleans, None, lists and dicts are typed;
/// anything else stays the string it was.
pub fn yamlify(text: &str) -> Value {
    let trimmed = text.trim();
    if trimmed.is_empty()
        || (trimmed.contains('_') && trimmed.chars().all(|c| c.is_ascii_digit() || c == '_'))
    {
        return Value::str(text);
    }
    if trimmed == "None" {
        return Value::Nil;
    }
    let Ok(parsed) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) else {
        return Value::str(text);
    };
    use serde_yaml_ng::Value as Y;
    let structured = trimmed.starts_with('[') || trimmed.starts_with('{');
    match &parsed {
        Y::Bool(_) | Y::Number(_) | Y::Null if trimmed != "~" && !trimmed.is_empty() => {
            serde_json::to_value(&parsed)
                .map(|j| Value::from_json(&j))
                .unwrap_or_else(|_| Value::str(text))
        }
        Y::Sequence(_) | Y::Mapping(_) if structured => serde_json::to_value(&parsed)
            .map(|j| Value::from_json(&j))
            .unwrap_or_else(|_| Value::str(text)),
        _ => Value::str(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_typed_like_salt() {
        let raw: Vec<String> = [
            "exit 3",
            "1",
            "true",
            "rev=abc123",
            "n=5",
            "a==b",
            "[1, 2]",
            "x.y=z",
            "2=3",
            "None",
            "1_000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (args, kwargs) = parse_fun_args(&raw);
        assert_eq!(
            args,
            vec![
                Value::str("exit 3"),
                Value::Int(1),
                Value::Bool(true),
                Value::str("a==b"),
                Value::Array(vec![Value::Int(1), Value::Int(2)]),
                Value::str("2=3"),
                Value::Nil,
                Value::str("1_000"),
            ]
        );
        assert_eq!(
            kwargs,
            vec![
                ("rev".to_string(), Value::str("abc123")),
                ("n".to_string(), Value::Int(5)),
                ("x.y".to_string(), Value::str("z")),
            ]
        );
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(seconds("1.5").unwrap(), Duration::from_millis(1500));
        assert!(seconds("-1").is_err());
        assert!(seconds("soon").is_err());
    }
}
