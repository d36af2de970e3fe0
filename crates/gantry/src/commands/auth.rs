//! `gantry auth keys create|list|revoke`: API keys. `create` with `--database-url` or `--data-path` writes straight
//! to the store instead of calling a server: that is how the first admin key is made.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use gantry_proto::v1 as pb;
use gantry_proto::v1::auth_service_client::AuthServiceClient;
use serde_json::json;

use crate::client::{Connection, RpcResultExt, channel};
use crate::render::{OutputFormat, print_json, table, timestamp};

/// `gantry auth ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// API keys: create, list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `gantry auth keys ...`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its token, once (only its hash is stored).
    Create(CreateArgs),
    /// List keys (never their secrets).
    #[command(visible_alias = "ls")]
    List,
    /// Revoke a key: every server refuses it within seconds.
    Revoke {
        /// The key's id.
        id: String,
    },
}

/// `gantry auth keys create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The project the key's role holds in (not with `--role admin`, which holds in every project).
    #[arg(long)]
    project: Option<String>,
    /// admin, operator, viewer or worker.
    #[arg(long, value_parser = ["admin", "operator", "viewer", "worker"])]
    role: String,
    /// How long the key lasts: `30d`, `12h`, `90m`, ...; without it, until revoked.
    #[arg(long, value_parser = parse_expiry)]
    expires: Option<Duration>,
    /// What the key is for.
    #[arg(long, default_value = "")]
    description: String,
    /// Write the key straight to this Postgres database instead of calling a server (the first admin key).
    #[arg(long, conflicts_with = "data_path")]
    database_url: Option<String>,
    /// Write the key straight to this embedded SQLite database instead of calling a server (the first admin key).
    #[arg(long)]
    data_path: Option<PathBuf>,
}

/// A duration flag that also takes days (`30d`).
fn parse_expiry(text: &str) -> Result<Duration, String> {
    if let Some(days) = text.trim().strip_suffix('d')
        && let Ok(days) = days.trim().parse::<u64>()
    {
        return Ok(Duration::from_secs(days.saturating_mul(86_400)));
    }
    gantry_server::parse_duration(text)
}

fn role(name: &str) -> pb::Role {
    match name {
        "admin" => pb::Role::Admin,
        "operator" => pb::Role::Operator,
        "viewer" => pb::Role::Viewer,
        _ => pb::Role::Worker,
    }
}

fn role_name(raw: i32) -> String {
    pb::Role::try_from(raw)
        .map(|role| role.as_str_name().trim_start_matches("ROLE_").to_lowercase())
        .unwrap_or_else(|_| raw.to_string())
}

fn key_json(key: &pb::ApiKey) -> serde_json::Value {
    json!({
        "id": key.id,
        "project": key.project,
        "role": role_name(key.role),
        "description": key.description,
        "created_at": timestamp(key.created_at.as_ref()),
        "expires_at": key.expires_at.as_ref().map(|at| timestamp(Some(at))),
        "revoked_at": key.revoked_at.as_ref().map(|at| timestamp(Some(at))),
    })
}

/// Runs `gantry auth ...`.
pub async fn auth(server: &Connection, output: OutputFormat, command: AuthCommand) -> anyhow::Result<ExitCode> {
    let AuthCommand::Keys(command) = command;
    match command {
        KeysCommand::Create(args) => create(server, output, args).await,
        KeysCommand::List => {
            let mut client = AuthServiceClient::new(channel(server).await?);
            let keys = client
                .list_api_keys(pb::ListApiKeysRequest {})
                .await
                .rpc("listing API keys")?
                .keys;
            if output == OutputFormat::Json {
                print_json(&json!(keys.iter().map(key_json).collect::<Vec<_>>()));
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = table(["ID", "PROJECT", "ROLE", "CREATED", "EXPIRES", "REVOKED", "DESCRIPTION"]);
            for key in &keys {
                rows.add_row(vec![
                    key.id.clone(),
                    if key.project.is_empty() {
                        "*".to_owned()
                    } else {
                        key.project.clone()
                    },
                    role_name(key.role),
                    timestamp(key.created_at.as_ref()),
                    key.expires_at
                        .as_ref()
                        .map_or("never".to_owned(), |at| timestamp(Some(at))),
                    key.revoked_at.as_ref().map_or(String::new(), |at| timestamp(Some(at))),
                    key.description.clone(),
                ]);
            }
            outln!("{rows}");
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Revoke { id } => {
            let mut client = AuthServiceClient::new(channel(server).await?);
            let key = client
                .revoke_api_key(pb::RevokeApiKeyRequest { id: id.clone() })
                .await
                .rpc(format!("revoking API key {id}"))?
                .key
                .ok_or_else(|| anyhow!("the server returned no key"))?;
            match output {
                OutputFormat::Json => print_json(&key_json(&key)),
                OutputFormat::Table => outln!("revoked API key {}", key.id),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn create(server: &Connection, output: OutputFormat, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let request = pb::CreateApiKeyRequest {
        project: args.project.unwrap_or_default(),
        role: role(&args.role) as i32,
        expires_in: args
            .expires
            .map(prost_types::Duration::try_from)
            .transpose()
            .context("--expires is too long")?,
        description: args.description,
    };
    let response = if args.database_url.is_some() || args.data_path.is_some() {
        let config = gantry_server::ServerConfig {
            database_url: args.database_url,
            data_path: args.data_path.unwrap_or_else(|| PathBuf::from("gantry.db")),
            ..gantry_server::ServerConfig::default()
        };
        let store = gantry_server::open_store(&config).await?;
        gantry_server::auth::api::create_key(store.as_ref(), request)
            .await
            .map_err(|status| anyhow!("creating the API key: {}", status.message()))?
    } else {
        let mut client = AuthServiceClient::new(channel(server).await?);
        client.create_api_key(request).await.rpc("creating an API key")?
    };
    let key = response.key.ok_or_else(|| anyhow!("no key was returned"))?;
    match output {
        OutputFormat::Json => {
            let mut value = key_json(&key);
            value["token"] = json!(response.token);
            print_json(&value);
        }
        OutputFormat::Table => {
            outln!("{}", response.token);
            errln!(
                "API key {} ({}{}) created. The token above is shown once: keep it (GANTRY_TOKEN, or --token).",
                key.id,
                role_name(key.role),
                if key.project.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", key.project)
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
