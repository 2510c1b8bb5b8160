//! The exit-code table. One place, documented in the README and `--help`.

use saltwire_job::{Error, Tally};

/// Every targeted minion returned successfully (or `--async` published).
pub const OK: i32 = 0;
/// At least one minion returned a failure (non-zero retcode or `success: false`),
/// and every minion returned.
pub const FAILED: i32 = 1;
/// Bad command line, plan or config file.
pub const USAGE: i32 = 2;
/// At least one minion did not return (did not return, not connected, or still
/// running at the deadline).
pub const NO_RETURN: i32 = 3;
/// The target matched no minion.
pub const NO_MATCH: i32 = 4;
/// The master refused the credentials or the function (blacklist, ACL).
pub const AUTH: i32 = 5;
/// The master could not be reached.
pub const UNREACHABLE: i32 = 6;
/// The master answered something saltwire does not understand.
pub const PROTOCOL: i32 = 7;

/// The table as shown by `--help`.
pub const TABLE: &str = "\
Exit codes:
  0  every targeted minion returned successfully
  1  some minion returned a failure (non-zero retcode or success: false)
  2  usage error: bad flags, arguments, plan or config file
  3  some minion did not return (not connected, no response, or still running at --deadline)
  4  the target matched no minion
  5  authentication or authorization refused (wrong key, eauth, token, blacklist, ACL)
  6  the master is unreachable
  7  the master's reply could not be understood";

/// The code for a job that ran.
pub fn for_tally(t: &Tally) -> i32 {
    if t.without_return() > 0 {
        NO_RETURN
    } else if t.failed > 0 {
        FAILED
    } else {
        OK
    }
}

/// The code for a job that could not run.
pub fn for_error(e: &Error) -> i32 {
    if e.is_usage() {
        USAGE
    } else if e.is_no_minions() {
        NO_MATCH
    } else if e.is_auth() {
        AUTH
    } else if e.is_unreachable() {
        UNREACHABLE
    } else {
        PROTOCOL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saltwire_job::Tally;

    #[test]
    fn every_outcome_has_its_own_code() {
        let tally = |succeeded, failed, did_not_return| Tally {
            expected: succeeded + failed + did_not_return,
            succeeded,
            failed,
            did_not_return,
            ..Tally::default()
        };
        assert_eq!(for_tally(&tally(3, 0, 0)), OK);
        assert_eq!(for_tally(&tally(2, 1, 0)), FAILED);
        assert_eq!(for_tally(&tally(1, 1, 1)), NO_RETURN);
        let errors = [
            (Error::Usage("x".into()), USAGE),
            (
                Error::NoMinions {
                    message: "x".into(),
                },
                NO_MATCH,
            ),
            (
                Error::AuthorizationRefused {
                    message: "x".into(),
                },
                AUTH,
            ),
            (
                Error::AuthenticationRefused {
                    message: "x".into(),
                    hint: "y".into(),
                },
                AUTH,
            ),
            (
                Error::MasterUnreachable {
                    endpoint: "x".into(),
                    detail: "y".into(),
                },
                UNREACHABLE,
            ),
            (Error::Protocol("x".into()), PROTOCOL),
        ];
        for (e, code) in errors {
            assert_eq!(for_error(&e), code, "{e}");
        }
        let codes = [
            OK,
            FAILED,
            USAGE,
            NO_RETURN,
            NO_MATCH,
            AUTH,
            UNREACHABLE,
            PROTOCOL,
        ];
        for code in codes {
            assert!(
                TABLE.contains(&format!("  {code}  ")),
                "code {code} missing from the table"
            );
        }
    }
}
