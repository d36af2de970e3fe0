//! From a verified token's claims to a [`Caller`]: the principal from one claim, the grants from the values of another
//! (groups, roles) through rules.
//!
//! A rule is `PATTERN=GRANT`. The pattern is a claim value, literally, with at most one `{project}` and one `{role}`
//! placeholder, never next to each other (`gantry:{project}:{role}`); the grant is `admin` (every project) or
//! `ROLE@PROJECT`, each part literal or the placeholder the pattern captures (`{role}@{project}`, `operator@ml`). A
//! value matches a rule when the whole value matches its pattern, a captured project is a valid project name and a
//! captured role is `operator`, `viewer` or `worker`: admin is a grant on every project, never on one, so
//! `gantry:ml:admin` gives nothing.

use std::fmt;
use std::str::FromStr;

use gantry_core::names::{self, quote};
use serde_json::Value;

use super::OidcError;
use crate::caller::{Caller, Grant, Role};

/// The rules used when none are configured: `gantry:admin` is an admin, `gantry:<project>:<role>` has that role on
/// that project.
pub const DEFAULT_GRANT_RULES: [&str; 2] = ["gantry:admin=admin", "gantry:{project}:{role}={role}@{project}"];

/// One mapping rule, `PATTERN=GRANT`.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantRule {
    text: String,
    pattern: Vec<Part>,
    role: Captured<Role>,
    /// `None`: every project (admin).
    project: Option<Captured<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Project,
    Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Captured<T> {
    Fixed(T),
    FromValue,
}

impl fmt::Debug for GrantRule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl fmt::Display for GrantRule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

fn parse_role(text: &str) -> Option<Role> {
    match text {
        "admin" => Some(Role::Admin),
        "operator" => Some(Role::Operator),
        "viewer" => Some(Role::Viewer),
        "worker" => Some(Role::Worker),
        _ => None,
    }
}

impl FromStr for GrantRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let fail = |why: String| format!("grant rule {}: {why}", quote(text));
        let (pattern_text, grant_text) = text
            .rsplit_once('=')
            .ok_or_else(|| fail("expected PATTERN=GRANT, e.g. gantry:{project}:{role}={role}@{project}".to_owned()))?;
        let pattern = parse_pattern(pattern_text).map_err(fail)?;
        let (role, project) = match grant_text.split_once('@') {
            None if grant_text == "admin" => (Captured::Fixed(Role::Admin), None),
            None => {
                return Err(fail(format!(
                    "grant {} is neither admin nor ROLE@PROJECT",
                    quote(grant_text)
                )));
            }
            Some((role_text, project_text)) => {
                let role = match role_text {
                    "{role}" => Captured::FromValue,
                    "admin" => return Err(fail("admin is a grant on every project: write it alone".to_owned())),
                    _ => Captured::Fixed(parse_role(role_text).ok_or_else(|| {
                        fail(format!(
                            "role {} is not operator, viewer, worker or {{role}}",
                            quote(role_text)
                        ))
                    })?),
                };
                let project = match project_text {
                    "{project}" => Captured::FromValue,
                    _ => {
                        names::check(project_text, names::PROJECT).map_err(|why| fail(format!("project {why}")))?;
                        Captured::Fixed(project_text.to_owned())
                    }
                };
                (role, Some(project))
            }
        };
        let captures = |part: &Part| pattern.contains(part);
        let uses_role = role == Captured::FromValue;
        let uses_project = project == Some(Captured::FromValue);
        for (placeholder, in_pattern, in_grant) in [
            ("{role}", captures(&Part::Role), uses_role),
            ("{project}", captures(&Part::Project), uses_project),
        ] {
            if in_pattern != in_grant {
                let (has, lacks) = if in_pattern {
                    ("pattern", "grant")
                } else {
                    ("grant", "pattern")
                };
                return Err(fail(format!("{placeholder} is in the {has} but not in the {lacks}")));
            }
        }
        Ok(GrantRule {
            text: text.to_owned(),
            pattern,
            role,
            project,
        })
    }
}

fn parse_pattern(text: &str) -> Result<Vec<Part>, String> {
    if text.is_empty() {
        return Err("the pattern is empty".to_owned());
    }
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = [("{project}", Part::Project), ("{role}", Part::Role)]
            .into_iter()
            .filter_map(|(placeholder, part)| rest.find(placeholder).map(|at| (at, placeholder, part)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, placeholder, part)) = next else {
            parts.push(Part::Literal(rest.to_owned()));
            break;
        };
        if at > 0 {
            parts.push(Part::Literal(rest[..at].to_owned()));
        } else if matches!(parts.last(), Some(Part::Project | Part::Role)) {
            return Err("two placeholders next to each other: put a separator between them".to_owned());
        }
        if parts.contains(&part) {
            return Err(format!("{placeholder} appears twice"));
        }
        parts.push(part);
        rest = &rest[at + placeholder.len()..];
    }
    if text.contains(['{', '}']) && parts.iter().all(|part| matches!(part, Part::Literal(_))) {
        return Err("braces name no placeholder: only {project} and {role}".to_owned());
    }
    Ok(parts)
}

impl GrantRule {
    /// The grant this rule gives a claim value, if the value matches.
    pub(crate) fn grant(&self, value: &str) -> Option<Grant> {
        let mut project = None;
        let mut role = None;
        let mut rest = value;
        for (index, part) in self.pattern.iter().enumerate() {
            match part {
                Part::Literal(literal) => rest = rest.strip_prefix(literal.as_str())?,
                Part::Project | Part::Role => {
                    let captured = match self.pattern.get(index + 1) {
                        Some(Part::Literal(next)) => &rest[..rest.find(next.as_str())?],
                        _ => rest,
                    };
                    if captured.is_empty() {
                        return None;
                    }
                    rest = &rest[captured.len()..];
                    if *part == Part::Project {
                        project = Some(captured);
                    } else {
                        role = Some(captured);
                    }
                }
            }
        }
        if !rest.is_empty() {
            return None;
        }
        let role = match &self.role {
            Captured::Fixed(role) => *role,
            Captured::FromValue => parse_role(role?)?,
        };
        let project = match &self.project {
            None => None,
            Some(Captured::Fixed(project)) => Some(project.clone()),
            Some(Captured::FromValue) => {
                let project = project?;
                names::check(project, names::PROJECT).ok()?;
                Some(project.to_owned())
            }
        };
        // Admin is a grant on every project, never on one.
        if (role == Role::Admin) != project.is_none() {
            return None;
        }
        Some(Grant { project, role })
    }
}

/// How claims become a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The claim naming the principal (`sub`); a name starting with `/` is a JSON pointer into the claims.
    pub principal_claim: String,
    /// The claim holding groups or roles (`groups`), a list of strings or one space-separated string (as `scope`).
    pub roles_claim: String,
    pub rules: Vec<GrantRule>,
}

fn claim<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    if name.starts_with('/') {
        claims.pointer(name)
    } else {
        claims.get(name)
    }
}

impl ClaimMapping {
    /// The caller a verified token's claims make, or why they make none.
    pub(crate) fn caller(&self, claims: &Value) -> Result<Caller, OidcError> {
        let subject = claim(claims, &self.principal_claim)
            .ok_or_else(|| OidcError::MissingClaim(self.principal_claim.clone()))?;
        let invalid = |claim: &str, reason: String| OidcError::InvalidClaim {
            claim: claim.to_owned(),
            reason,
        };
        let subject = subject
            .as_str()
            .ok_or_else(|| invalid(&self.principal_claim, "is not a string".to_owned()))?;
        names::check(subject, names::NAME).map_err(|why| invalid(&self.principal_claim, why))?;
        let principal = format!("oidc:{subject}");
        let values: Vec<&str> = match claim(claims, &self.roles_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => text.split_whitespace().collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                return Err(invalid(
                    &self.roles_claim,
                    "is neither a list of strings nor a string".to_owned(),
                ));
            }
        };
        let mut grants: Vec<Grant> = Vec::new();
        for value in values {
            for rule in &self.rules {
                if let Some(grant) = rule.grant(value)
                    && !grants.contains(&grant)
                {
                    grants.push(grant);
                }
            }
        }
        if grants.is_empty() {
            return Err(OidcError::NoGrant {
                principal,
                claim: self.roles_claim.clone(),
            });
        }
        Ok(Caller { principal, grants })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(text: &str) -> GrantRule {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    fn grant(project: Option<&str>, role: Role) -> Grant {
        Grant {
            project: project.map(str::to_owned),
            role,
        }
    }

    #[test]
    fn the_default_rules_read_admin_and_project_roles() {
        let [admin, per_project] = DEFAULT_GRANT_RULES.map(rule);
        assert_eq!(admin.grant("gantry:admin"), Some(grant(None, Role::Admin)));
        assert_eq!(admin.grant("gantry:admins"), None);
        assert_eq!(
            per_project.grant("gantry:ml:operator"),
            Some(grant(Some("ml"), Role::Operator))
        );
        assert_eq!(
            per_project.grant("gantry:data-eng:worker"),
            Some(grant(Some("data-eng"), Role::Worker))
        );
        for refused in [
            "gantry:ml:admin",    // admin is never per project
            "gantry:ml:owner",    // not a role
            "gantry:ML:viewer",   // not a project name
            "gantry::viewer",     // empty project
            "gantry:a:b:viewer",  // a project holds no ':'
            "gantry:ml:viewer:x", // the whole value must match
            "xgantry:ml:viewer",
            "gantry:admin",
        ] {
            assert_eq!(per_project.grant(refused), None, "{refused}");
        }
    }

    #[test]
    fn rules_map_literal_values_to_fixed_grants() {
        assert_eq!(
            rule("ml-engineers=operator@ml").grant("ml-engineers"),
            Some(grant(Some("ml"), Role::Operator))
        );
        assert_eq!(rule("platform=admin").grant("platform"), Some(grant(None, Role::Admin)));
        // A value with '=' in it: the grant is what follows the last one.
        assert_eq!(
            rule("cn=ops,ou=groups=viewer@ops").grant("cn=ops,ou=groups"),
            Some(grant(Some("ops"), Role::Viewer))
        );
        assert_eq!(
            rule("team-{project}=viewer@{project}").grant("team-search"),
            Some(grant(Some("search"), Role::Viewer))
        );
        assert_eq!(
            rule("{role}s-of-ml={role}@ml").grant("workers-of-ml"),
            Some(grant(Some("ml"), Role::Worker))
        );
    }

    #[test]
    fn malformed_rules_say_what_is_wrong() {
        for (text, why) in [
            ("gantry:admin", "expected PATTERN=GRANT"),
            ("=admin", "the pattern is empty"),
            ("x=owner", "is neither admin nor ROLE@PROJECT"),
            ("x=owner@ml", "role \"owner\" is not operator, viewer, worker or {role}"),
            ("x=admin@ml", "admin is a grant on every project"),
            ("x=viewer@ML", "project \"ML\" must be lowercase"),
            (
                "{project}{role}={role}@{project}",
                "two placeholders next to each other",
            ),
            ("{project}-{project}=viewer@{project}", "{project} appears twice"),
            (
                "gantry:{project}=viewer@ml",
                "{project} is in the pattern but not in the grant",
            ),
            (
                "gantry=viewer@{project}",
                "{project} is in the grant but not in the pattern",
            ),
            ("gantry:{team}=admin", "braces name no placeholder"),
        ] {
            let error = text.parse::<GrantRule>().expect_err(text);
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    fn mapping(roles_claim: &str, rules: &[&str]) -> ClaimMapping {
        ClaimMapping {
            principal_claim: "sub".to_owned(),
            roles_claim: roles_claim.to_owned(),
            rules: rules.iter().map(|text| rule(text)).collect(),
        }
    }

    #[test]
    fn claims_make_a_caller_with_every_matching_grant_once() {
        let mapping = mapping("groups", &DEFAULT_GRANT_RULES);
        let claims = json!({
            "sub": "248289761001",
            "groups": ["gantry:ml:operator", "unrelated", "gantry:ml:operator", "gantry:web:viewer", 7]
        });
        assert_eq!(
            mapping.caller(&claims),
            Ok(Caller {
                principal: "oidc:248289761001".to_owned(),
                grants: vec![grant(Some("ml"), Role::Operator), grant(Some("web"), Role::Viewer)],
            })
        );
        // A space-separated string, as `scope` is, and a claim reached by a JSON pointer (Keycloak's roles).
        let scoped = self::mapping("scope", &DEFAULT_GRANT_RULES);
        let claims = json!({"sub": "svc", "scope": "openid gantry:admin"});
        assert_eq!(
            scoped.caller(&claims).map(|caller| caller.grants),
            Ok(vec![grant(None, Role::Admin)])
        );
        let nested = self::mapping("/realm_access/roles", &DEFAULT_GRANT_RULES);
        let claims = json!({"sub": "u", "realm_access": {"roles": ["gantry:ops:worker"]}});
        assert_eq!(
            nested.caller(&claims).map(|caller| caller.grants),
            Ok(vec![grant(Some("ops"), Role::Worker)])
        );
    }

    #[test]
    fn claims_without_a_principal_or_a_grant_are_refused() {
        let mapping = mapping("groups", &DEFAULT_GRANT_RULES);
        assert_eq!(
            mapping.caller(&json!({"groups": ["gantry:admin"]})),
            Err(OidcError::MissingClaim("sub".to_owned()))
        );
        assert_eq!(
            mapping
                .caller(&json!({"sub": 12, "groups": ["gantry:admin"]}))
                .map_err(|error| error.to_string()),
            Err("claim \"sub\" is not a string".to_owned())
        );
        let no_grant = mapping.caller(&json!({"sub": "alice", "groups": ["gantry:ml:owner"]}));
        assert_eq!(
            no_grant,
            Err(OidcError::NoGrant {
                principal: "oidc:alice".to_owned(),
                claim: "groups".to_owned()
            })
        );
        assert_eq!(
            no_grant.map_err(|error| error.to_string()),
            Err("oidc:alice has no grant: no value of claim \"groups\" matches a grant rule".to_owned())
        );
        assert!(matches!(
            mapping.caller(&json!({"sub": "alice"})),
            Err(OidcError::NoGrant { .. })
        ));
        assert!(matches!(
            mapping.caller(&json!({"sub": "alice", "groups": {"admin": true}})),
            Err(OidcError::InvalidClaim { .. })
        ));
    }
}
