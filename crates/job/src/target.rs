//! Targets: the expression, its type, and the client-side nodegroup expansion
//! that `LocalClient._prep_pub` performs (REFERENCE §3.4).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use saltwire_transport::wire::publish::Tgt;

use crate::error::Error;

/// Salt's target types (`tgt_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    /// Shell-style glob on the minion id (the default).
    Glob,
    /// Perl-compatible regular expression on the minion id (`-E`).
    Pcre,
    /// A comma-separated list of minion ids (`-L`).
    List,
    /// `grain:value` glob (`-G`).
    Grain,
    /// `grain:regex` (`-P`).
    GrainPcre,
    /// `pillar:value` glob (`-I`).
    Pillar,
    /// `pillar:regex` (`-J`).
    PillarPcre,
    /// A compound expression (`-C`).
    Compound,
    /// A nodegroup from the master config (`-N`), expanded client-side.
    Nodegroup,
    /// An IP address or CIDR subnet (`-S`).
    Ipcidr,
}

impl TargetType {
    /// The name Salt uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Glob => "glob",
            TargetType::Pcre => "pcre",
            TargetType::List => "list",
            TargetType::Grain => "grain",
            TargetType::GrainPcre => "grain_pcre",
            TargetType::Pillar => "pillar",
            TargetType::PillarPcre => "pillar_pcre",
            TargetType::Compound => "compound",
            TargetType::Nodegroup => "nodegroup",
            TargetType::Ipcidr => "ipcidr",
        }
    }

    /// Every target type.
    pub const ALL: [TargetType; 10] = [
        TargetType::Glob,
        TargetType::Pcre,
        TargetType::List,
        TargetType::Grain,
        TargetType::GrainPcre,
        TargetType::Pillar,
        TargetType::PillarPcre,
        TargetType::Compound,
        TargetType::Nodegroup,
        TargetType::Ipcidr,
    ];
}

impl fmt::Display for TargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetType {
    type Err = Error;

    fn from_str(s: &str) -> Result<TargetType, Error> {
        TargetType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = TargetType::ALL.iter().map(|t| t.as_str()).collect();
                Error::Usage(format!(
                    "unknown target type `{s}` (use one of: {})",
                    names.join(", ")
                ))
            })
    }
}

/// What a job is sent to: an expression and how to read it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// The expression, e.g. `web*`, `roles:webserver`, `G@roles:webserver or web1`.
    pub expr: String,
    /// How the master and minions match it.
    pub tgt_type: TargetType,
}

impl Target {
    /// A target of the given type.
    pub fn new(expr: impl Into<String>, tgt_type: TargetType) -> Target {
        Target {
            expr: expr.into(),
            tgt_type,
        }
    }

    /// A glob on minion ids.
    pub fn glob(expr: impl Into<String>) -> Target {
        Target::new(expr, TargetType::Glob)
    }

    /// A grain match such as `roles:webserver`.
    pub fn grain(expr: impl Into<String>) -> Target {
        Target::new(expr, TargetType::Grain)
    }

    /// A compound expression.
    pub fn compound(expr: impl Into<String>) -> Target {
        Target::new(expr, TargetType::Compound)
    }

    /// A list of minion ids.
    pub fn list<I, S>(ids: I) -> Target
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        Target::new(ids.join(","), TargetType::List)
    }

    /// What goes into the publish load, nodegroups expanded as `LocalClient._prep_pub` does.
    pub fn resolve(
        &self,
        nodegroups: &BTreeMap<String, Vec<String>>,
    ) -> Result<(Tgt, &'static str), Error> {
        if self.expr.trim().is_empty() {
            return Err(Error::Usage("the target expression is empty".into()));
        }
        match self.tgt_type {
            TargetType::List => Ok((
                Tgt::List(
                    self.expr
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                ),
                "list",
            )),
            TargetType::Nodegroup => {
                let words = resolve_nodegroup(&self.expr, nodegroups)?;
                Ok((
                    Tgt::Expr(expand_compound(&words, nodegroups)?.join(" ")),
                    "compound",
                ))
            }
            TargetType::Compound => {
                let words: Vec<String> = self.expr.split_whitespace().map(String::from).collect();
                Ok((
                    Tgt::Expr(expand_compound(&words, nodegroups)?.join(" ")),
                    "compound",
                ))
            }
            other => Ok((Tgt::Expr(self.expr.clone()), other.as_str())),
        }
    }
}

fn expand_compound(
    words: &[String],
    nodegroups: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for word in words {
        match word.strip_prefix("N@") {
            Some(name) if !name.is_empty() => out.extend(resolve_nodegroup(name, nodegroups)?),
            _ => out.push(word.clone()),
        }
    }
    Ok(out)
}

fn resolve_nodegroup(
    name: &str,
    nodegroups: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, Error> {
    if !nodegroups.contains_key(name) {
        let known: Vec<&str> = nodegroups.keys().map(String::as_str).collect();
        return Err(Error::Usage(format!(
            "nodegroup `{name}` is not defined in the master config's `nodegroups` (defined: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let mut skip = BTreeSet::new();
    Ok(nodegroup_comp(name, nodegroups, &mut skip, true))
}

const OPERATORS: [&str; 5] = ["and", "or", "not", "(", ")"];

/// `salt.utils.minions.nodegroup_comp`: expands nested `N@` groups; a group
/// with no operators and no type prefixes is read as a list of ids (or a regex).
fn nodegroup_comp(
    name: &str,
    nodegroups: &BTreeMap<String, Vec<String>>,
    skip: &mut BTreeSet<String>,
    first_call: bool,
) -> Vec<String> {
    if skip.contains(name) {
        return Vec::new();
    }
    let Some(words) = nodegroups.get(name) else {
        return Vec::new();
    };
    skip.insert(name.to_string());
    let mut expanded_nested = false;
    let mut ret = Vec::new();
    for word in words {
        if OPERATORS.contains(&word.as_str()) {
            ret.push(word.clone());
        } else if word.len() >= 3 && word.starts_with("N@") {
            expanded_nested = true;
            ret.extend(nodegroup_comp(&word[2..], nodegroups, skip, false));
        } else {
            ret.push(word.clone());
        }
    }
    if !ret.is_empty() {
        ret.insert(0, "(".into());
        ret.push(")".into());
    }
    skip.remove(name);
    if expanded_nested || !first_call {
        if !first_call {
            if let Some(joined) = nodegroup_as_expression(words) {
                return joined;
            }
        }
        ret
    } else {
        nodegroup_as_expression(words).unwrap_or_else(|| words.clone())
    }
}

/// `_nodegroup_regex`: a group made only of bare ids becomes `L@a,b` (or `E@…`
/// when it looks like a regular expression).
fn nodegroup_as_expression(words: &[String]) -> Option<Vec<String>> {
    if words.iter().any(|w| OPERATORS.contains(&w.as_str())) {
        return None;
    }
    let typed = |w: &String| {
        let b = w.as_bytes();
        b.len() >= 2 && b[0].is_ascii_uppercase() && b[1] == b'@'
    };
    if words.iter().any(|w| w.contains('*') || typed(w)) {
        return None;
    }
    let regex_chars = ['(', '[', '{', '\\', '?', '}', ']', ')'];
    let prefix = if words
        .iter()
        .any(|w| regex_chars.iter().any(|c| w.contains(*c)))
    {
        "E@"
    } else {
        "L@"
    };
    Some(vec![format!("{prefix}{}", words.join(","))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> BTreeMap<String, Vec<String>> {
        let mut g = BTreeMap::new();
        g.insert("web".into(), vec!["G@roles:webserver".into()]);
        g.insert("ids".into(), vec!["web1".into(), "redis1".into()]);
        g.insert(
            "both".into(),
            vec!["N@web".into(), "or".into(), "L@redis1".into()],
        );
        g
    }

    fn expr(t: Tgt) -> String {
        match t {
            Tgt::Expr(s) => s,
            Tgt::List(l) => panic!("unexpected list {l:?}"),
        }
    }

    #[test]
    fn nodegroups_expand_like_localclient() {
        let g = groups();
        let (t, ty) = Target::new("web", TargetType::Nodegroup)
            .resolve(&g)
            .unwrap();
        assert_eq!((expr(t).as_str(), ty), ("G@roles:webserver", "compound"));
        let (t, _) = Target::new("ids", TargetType::Nodegroup)
            .resolve(&g)
            .unwrap();
        assert_eq!(expr(t), "L@web1,redis1");
        let (t, _) = Target::new("both", TargetType::Nodegroup)
            .resolve(&g)
            .unwrap();
        assert_eq!(expr(t), "( ( G@roles:webserver ) or L@redis1 )");
        let (t, _) = Target::compound("N@ids and not web1").resolve(&g).unwrap();
        assert_eq!(expr(t), "L@web1,redis1 and not web1");
    }

    #[test]
    fn unknown_nodegroup_names_the_setting() {
        let err = Target::new("nope", TargetType::Nodegroup)
            .resolve(&groups())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nodegroups") && err.contains("nope"), "{err}");
    }

    #[test]
    fn lists_split_on_commas() {
        let (t, ty) = Target::new("web1, web2,", TargetType::List)
            .resolve(&BTreeMap::new())
            .unwrap();
        assert_eq!(ty, "list");
        assert_eq!(t, Tgt::List(vec!["web1".into(), "web2".into()]));
    }

    #[test]
    fn type_names_round_trip() {
        for t in TargetType::ALL {
            assert_eq!(t.as_str().parse::<TargetType>().unwrap(), t);
        }
        assert!("bogus".parse::<TargetType>().is_err());
    }
}
