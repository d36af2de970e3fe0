//! OIDC's settings: the `--oidc-*` flags (and `GANTRY_OIDC_*` variables), checked once, and the configuration the
//! verifier runs with.

use std::path::PathBuf;
use std::time::Duration;

use gantry_core::names::quote;

use super::grants::{ClaimMapping, DEFAULT_GRANT_RULES, GrantRule};
use crate::config::parse_duration;

/// Where the issuer's signing keys (a JWKS document) come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A file, read again as a URL is fetched again (a mounted secret or config map that rotation rewrites).
    File(PathBuf),
    /// The issuer's `jwks_uri`, fetched over HTTPS (plain HTTP only to a loopback address).
    Url(reqwest::Url),
}

impl std::fmt::Display for JwksSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwksSource::File(path) => write!(formatter, "{}", path.display()),
            JwksSource::Url(url) => write!(formatter, "{url}"),
        }
    }
}

/// How the verifier checks tokens and maps them to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The `iss` every token must carry, exactly.
    pub issuer: String,
    /// The token's `aud` must name at least one of these.
    pub audiences: Vec<String>,
    pub jwks: JwksSource,
    /// How old the key set may grow before it is loaded again (in the background; tokens keep being checked).
    pub jwks_refresh: Duration,
    /// The least time between two loads of the key set, whatever asks for them: a flood of tokens naming unknown
    /// keys loads it at most once per this interval.
    pub jwks_min_refresh: Duration,
    /// How far `exp` and `nbf` may be off the server's clock.
    pub clock_skew: Duration,
    pub mapping: ClaimMapping,
}

/// The `--oidc-*` flags of `gantry server`.
#[derive(Debug, Clone, clap::Args)]
pub struct OidcArgs {
    /// Accept OIDC tokens (JWTs) from this issuer: a token's `iss` must be exactly this. Needs `--oidc-audience` and
    /// one of `--oidc-jwks-url`, `--oidc-jwks-file`.
    #[arg(long, env = "GANTRY_OIDC_ISSUER", help_heading = "OIDC")]
    pub oidc_issuer: Option<String>,
    /// Who tokens must be meant for: a token's `aud` must name one of these (comma-separated, or the flag repeated).
    #[arg(long, env = "GANTRY_OIDC_AUDIENCE", value_delimiter = ',', help_heading = "OIDC")]
    pub oidc_audience: Vec<String>,
    /// The issuer's signing keys (its `jwks_uri`), fetched over HTTPS and cached.
    #[arg(
        long,
        env = "GANTRY_OIDC_JWKS_URL",
        conflicts_with = "oidc_jwks_file",
        help_heading = "OIDC"
    )]
    pub oidc_jwks_url: Option<String>,
    /// The issuer's signing keys as a JWKS file, read again as the URL would be fetched again.
    #[arg(long, env = "GANTRY_OIDC_JWKS_FILE", help_heading = "OIDC")]
    pub oidc_jwks_file: Option<PathBuf>,
    /// How often the signing keys are loaded again. A token naming a key not yet known loads them at once, at most
    /// once per `--oidc-jwks-min-refresh`.
    #[arg(long, env = "GANTRY_OIDC_JWKS_REFRESH", default_value = "15m", value_parser = parse_duration, help_heading = "OIDC")]
    pub oidc_jwks_refresh: Duration,
    /// The least time between two loads of the signing keys, so that tokens naming unknown keys cannot hammer the
    /// issuer.
    #[arg(long, env = "GANTRY_OIDC_JWKS_MIN_REFRESH", default_value = "30s", value_parser = parse_duration, help_heading = "OIDC")]
    pub oidc_jwks_min_refresh: Duration,
    /// How far a token's `exp` and `nbf` may be off the server's clock.
    #[arg(long, env = "GANTRY_OIDC_CLOCK_SKEW", default_value = "60s", value_parser = parse_duration, help_heading = "OIDC")]
    pub oidc_clock_skew: Duration,
    /// The claim naming the caller; the principal is `oidc:<value>`. A name starting with `/` is a JSON pointer
    /// (`/user/id`).
    #[arg(
        long,
        env = "GANTRY_OIDC_PRINCIPAL_CLAIM",
        default_value = "sub",
        help_heading = "OIDC"
    )]
    pub oidc_principal_claim: String,
    /// The claim holding the caller's groups or roles: a list of strings, or one space-separated string. A name
    /// starting with `/` is a JSON pointer (`/realm_access/roles`).
    #[arg(
        long,
        env = "GANTRY_OIDC_ROLES_CLAIM",
        default_value = "groups",
        help_heading = "OIDC"
    )]
    pub oidc_roles_claim: String,
    /// A rule from a value of the roles claim to a grant, `PATTERN=GRANT` (`ml-team=operator@ml`,
    /// `gantry:{project}:{role}={role}@{project}`, `platform=admin`); repeat the flag, or separate rules with `;`.
    /// Given rules replace the default ones, `gantry:admin=admin` and `gantry:{project}:{role}={role}@{project}`.
    #[arg(
        long = "oidc-grant",
        env = "GANTRY_OIDC_GRANTS",
        value_name = "PATTERN=GRANT",
        value_delimiter = ';',
        help_heading = "OIDC"
    )]
    pub oidc_grants: Vec<GrantRule>,
}

impl Default for OidcArgs {
    fn default() -> Self {
        OidcArgs {
            oidc_issuer: None,
            oidc_audience: Vec::new(),
            oidc_jwks_url: None,
            oidc_jwks_file: None,
            oidc_jwks_refresh: Duration::from_secs(15 * 60),
            oidc_jwks_min_refresh: Duration::from_secs(30),
            oidc_clock_skew: Duration::from_secs(60),
            oidc_principal_claim: "sub".to_owned(),
            oidc_roles_claim: "groups".to_owned(),
            oidc_grants: Vec::new(),
        }
    }
}

impl OidcArgs {
    /// The verifier's configuration, `None` without `--oidc-issuer`, or what is wrong with the flags.
    pub fn config(&self) -> Result<Option<OidcConfig>, String> {
        let Some(issuer) = &self.oidc_issuer else {
            let stray = [
                ("--oidc-audience", !self.oidc_audience.is_empty()),
                ("--oidc-jwks-url", self.oidc_jwks_url.is_some()),
                ("--oidc-jwks-file", self.oidc_jwks_file.is_some()),
                ("--oidc-grant", !self.oidc_grants.is_empty()),
            ];
            return match stray.iter().find(|(_, given)| *given) {
                Some((flag, _)) => Err(format!("{flag} needs --oidc-issuer")),
                None => Ok(None),
            };
        };
        if issuer.trim().is_empty() {
            return Err("--oidc-issuer must not be empty".to_owned());
        }
        let audiences: Vec<String> = self
            .oidc_audience
            .iter()
            .map(|audience| audience.trim().to_owned())
            .filter(|audience| !audience.is_empty())
            .collect();
        if audiences.is_empty() {
            return Err("--oidc-issuer needs --oidc-audience: the audience tokens must be meant for".to_owned());
        }
        let jwks = match (&self.oidc_jwks_url, &self.oidc_jwks_file) {
            (Some(url), None) => JwksSource::Url(jwks_url(url)?),
            (None, Some(path)) => JwksSource::File(path.clone()),
            (None, None) => return Err("--oidc-issuer needs --oidc-jwks-url or --oidc-jwks-file".to_owned()),
            (Some(_), Some(_)) => return Err("give --oidc-jwks-url or --oidc-jwks-file, not both".to_owned()),
        };
        if self.oidc_jwks_min_refresh.is_zero() {
            return Err("--oidc-jwks-min-refresh must be longer than zero".to_owned());
        }
        if self.oidc_jwks_refresh < self.oidc_jwks_min_refresh {
            return Err("--oidc-jwks-refresh must not be shorter than --oidc-jwks-min-refresh".to_owned());
        }
        for (flag, claim) in [
            ("--oidc-principal-claim", &self.oidc_principal_claim),
            ("--oidc-roles-claim", &self.oidc_roles_claim),
        ] {
            if claim.is_empty() {
                return Err(format!("{flag} must not be empty"));
            }
        }
        let rules = if self.oidc_grants.is_empty() {
            DEFAULT_GRANT_RULES
                .iter()
                .map(|rule| rule.parse())
                .collect::<Result<_, _>>()?
        } else {
            self.oidc_grants.clone()
        };
        Ok(Some(OidcConfig {
            issuer: issuer.clone(),
            audiences,
            jwks,
            jwks_refresh: self.oidc_jwks_refresh,
            jwks_min_refresh: self.oidc_jwks_min_refresh,
            clock_skew: self.oidc_clock_skew,
            mapping: ClaimMapping {
                principal_claim: self.oidc_principal_claim.clone(),
                roles_claim: self.oidc_roles_claim.clone(),
                rules,
            },
        }))
    }
}

/// A JWKS URL: HTTPS, or HTTP to a loopback address (a sidecar, a test), never plain HTTP across a network, where
/// whoever sits in between could hand the server their own keys.
fn jwks_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|error| format!("--oidc-jwks-url {}: {error}", quote(text)))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "--oidc-jwks-url {}: plain HTTP is only allowed to a loopback address; use https://",
            quote(text)
        )),
        scheme => Err(format!("--oidc-jwks-url {}: scheme {scheme} is not https", quote(text))),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        oidc: OidcArgs,
    }

    fn config(args: &[&str]) -> Result<Option<OidcConfig>, String> {
        let flags = Flags::try_parse_from(std::iter::once("gantry").chain(args.iter().copied()))
            .map_err(|error| error.to_string())?;
        flags.oidc.config()
    }

    #[test]
    fn without_an_issuer_there_is_no_oidc() {
        assert_eq!(config(&[]), Ok(None));
        assert_eq!(
            config(&["--oidc-audience", "gantry"]),
            Err("--oidc-audience needs --oidc-issuer".to_owned())
        );
    }

    #[test]
    fn the_flags_make_a_configuration_with_the_default_rules() {
        let config = config(&[
            "--oidc-issuer",
            "https://accounts.google.com",
            "--oidc-audience",
            "gantry,gantry-cli",
            "--oidc-jwks-url",
            "https://www.googleapis.com/oauth2/v3/certs",
            "--oidc-clock-skew",
            "30s",
        ])
        .expect("valid")
        .expect("configured");
        assert_eq!(config.issuer, "https://accounts.google.com");
        assert_eq!(config.audiences, ["gantry", "gantry-cli"]);
        assert_eq!(config.jwks.to_string(), "https://www.googleapis.com/oauth2/v3/certs");
        assert_eq!(config.clock_skew, Duration::from_secs(30));
        assert_eq!(config.jwks_refresh, Duration::from_secs(900));
        assert_eq!(config.jwks_min_refresh, Duration::from_secs(30));
        assert_eq!(config.mapping.principal_claim, "sub");
        assert_eq!(config.mapping.roles_claim, "groups");
        let rules: Vec<String> = config.mapping.rules.iter().map(ToString::to_string).collect();
        assert_eq!(rules, DEFAULT_GRANT_RULES);
    }

    #[test]
    fn given_rules_replace_the_default_ones() {
        let config = config(&[
            "--oidc-issuer=https://issuer.example",
            "--oidc-audience=gantry",
            "--oidc-jwks-file=/etc/gantry/jwks.json",
            "--oidc-grant=platform=admin;cn=ml,ou=groups=operator@ml",
            "--oidc-grant",
            "team-{project}=viewer@{project}",
        ])
        .expect("valid")
        .expect("configured");
        let rules: Vec<String> = config.mapping.rules.iter().map(ToString::to_string).collect();
        assert_eq!(
            rules,
            [
                "platform=admin",
                "cn=ml,ou=groups=operator@ml",
                "team-{project}=viewer@{project}"
            ]
        );
        assert_eq!(config.jwks, JwksSource::File("/etc/gantry/jwks.json".into()));
    }

    #[test]
    fn incomplete_or_unsafe_settings_are_refused() {
        let issuer = ["--oidc-issuer", "https://issuer.example"];
        let with = |more: &[&str]| config(&[&issuer[..], more].concat());
        assert_eq!(
            with(&["--oidc-jwks-file", "k.json"]),
            Err("--oidc-issuer needs --oidc-audience: the audience tokens must be meant for".to_owned())
        );
        assert_eq!(
            with(&["--oidc-audience", "g"]),
            Err("--oidc-issuer needs --oidc-jwks-url or --oidc-jwks-file".to_owned())
        );
        let refused = with(&["--oidc-audience", "g", "--oidc-jwks-url", "http://issuer.example/keys"]);
        assert_eq!(
            refused,
            Err(
                "--oidc-jwks-url \"http://issuer.example/keys\": plain HTTP is only allowed to a loopback address; \
                 use https://"
                    .to_owned()
            )
        );
        assert!(with(&["--oidc-audience", "g", "--oidc-jwks-url", "http://127.0.0.1:8080/keys"]).is_ok());
        assert!(
            with(&[
                "--oidc-audience",
                "g",
                "--oidc-jwks-url",
                "https://x/k",
                "--oidc-jwks-file",
                "k"
            ])
            .expect_err("both")
            .contains("cannot be used with")
        );
        assert_eq!(
            with(&[
                "--oidc-audience",
                "g",
                "--oidc-jwks-file",
                "k",
                "--oidc-jwks-min-refresh",
                "0s"
            ]),
            Err("--oidc-jwks-min-refresh must be longer than zero".to_owned())
        );
        assert!(
            with(&[
                "--oidc-audience",
                "g",
                "--oidc-jwks-file",
                "k",
                "--oidc-grant",
                "x=owner@ml"
            ])
            .expect_err("bad rule")
            .contains("role \"owner\" is not operator, viewer, worker or {role}")
        );
    }
}
