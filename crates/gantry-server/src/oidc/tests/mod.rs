//! The verifier end to end: tokens signed with keys generated here, checked against a key set in a file or served
//! over HTTP, each refusal with its error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rotation;
mod support;

use serde_json::json;

use super::{OidcError, OidcVerifier};
use crate::caller::{Caller, Grant, Role};
use support::*;

fn ml_operator() -> Caller {
    Caller {
        principal: "oidc:248289761001".to_owned(),
        grants: vec![Grant {
            project: Some("ml".to_owned()),
            role: Role::Operator,
        }],
    }
}

#[tokio::test]
async fn valid_rsa_and_ec_tokens_map_to_the_expected_caller() {
    let (rsa, ec) = (rsa_key("rsa-1", 0), ec_key("ec-1"));
    let file = FileVerifier::new(&[&rsa, &ec]);
    for key in [&rsa, &ec] {
        assert_eq!(
            file.verifier.verify(&sign(key, &claims())).await,
            Ok(ml_operator()),
            "{}",
            key.kid
        );
    }
    // RS384 and RS512 with the same RSA key (its JWK names no algorithm), and an admin by the default rules.
    let mut unpinned = rsa.clone();
    unpinned.jwk.as_object_mut().unwrap().remove("alg");
    let file = FileVerifier::new(&[&unpinned]);
    let mut admin = claims();
    admin["groups"] = json!(["gantry:admin", "gantry:web:viewer"]);
    for algorithm in [jsonwebtoken::Algorithm::RS384, jsonwebtoken::Algorithm::RS512] {
        let key = TestKey {
            algorithm,
            ..unpinned.clone()
        };
        let caller = file.verifier.verify(&sign(&key, &admin)).await.expect("valid");
        assert_eq!(caller.principal, "oidc:248289761001");
        assert_eq!(
            caller.grants,
            [
                Grant {
                    project: None,
                    role: Role::Admin
                },
                Grant {
                    project: Some("web".to_owned()),
                    role: Role::Viewer
                }
            ]
        );
    }
}

#[tokio::test]
async fn expiry_and_not_before_are_checked_within_the_clock_skew() {
    let key = ec_key("ec-1");
    let file = FileVerifier::new(&[&key]);
    let verify = |edit: fn(&mut serde_json::Value)| {
        let mut claims = claims();
        edit(&mut claims);
        let token = sign(&key, &claims);
        let verifier = file.verifier.clone();
        async move { verifier.verify(&token).await }
    };
    // Within the 60 s of skew on either side: accepted.
    assert!(verify(|c| c["exp"] = json!(now() - 30)).await.is_ok());
    assert!(verify(|c| c["nbf"] = json!(now() + 30)).await.is_ok());

    let expired = verify(|c| c["exp"] = json!(now() - 120)).await;
    let Err(OidcError::Expired {
        expired_at,
        skew_seconds: 60,
    }) = &expired
    else {
        panic!("{expired:?}");
    };
    assert!(expired_at.ends_with('Z'), "an RFC 3339 time: {expired_at}");
    assert!(
        expired.unwrap_err().to_string().starts_with("token expired at "),
        "says what was wrong"
    );
    let early = verify(|c| c["nbf"] = json!(now() + 3600)).await;
    assert!(
        matches!(early, Err(OidcError::NotYetValid { skew_seconds: 60, .. })),
        "{early:?}"
    );
    let no_expiry = verify(|c| {
        c.as_object_mut().unwrap().remove("exp");
    })
    .await;
    assert_eq!(no_expiry, Err(OidcError::MissingClaim("exp".to_owned())));
}

#[tokio::test]
async fn a_wrong_issuer_or_audience_is_refused() {
    let key = rsa_key("rsa-1", 0);
    let file = FileVerifier::new(&[&key]);
    let mut claims = claims();
    claims["iss"] = json!("https://evil.example");
    let refused = file.verifier.verify(&sign(&key, &claims)).await.unwrap_err();
    assert_eq!(
        refused,
        OidcError::WrongIssuer {
            expected: ISSUER.to_owned(),
            found: Some("https://evil.example".to_owned())
        }
    );
    assert_eq!(
        refused.to_string(),
        "wrong issuer \"https://evil.example\": expected \"https://issuer.example\""
    );

    let mut claims = support::claims();
    claims["aud"] = json!(["other-service", "another"]);
    let refused = file.verifier.verify(&sign(&key, &claims)).await.unwrap_err();
    assert_eq!(refused.to_string(), "wrong audience: the token is not meant for gantry");
    // One of several audiences is enough.
    claims["aud"] = json!(["other-service", AUDIENCE]);
    assert_eq!(file.verifier.verify(&sign(&key, &claims)).await, Ok(ml_operator()));
    claims.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        file.verifier.verify(&sign(&key, &claims)).await,
        Err(OidcError::MissingClaim("aud".to_owned()))
    );
}

#[tokio::test]
async fn unsigned_tokens_and_symmetric_algorithms_are_refused() {
    let key = rsa_key("rsa-1", 0);
    let file = FileVerifier::new(&[&key]);
    for alg in ["none", "None", "NONE"] {
        let token = forge(&json!({"alg": alg, "kid": "rsa-1"}), &claims(), b"");
        assert_eq!(file.verifier.verify(&token).await, Err(OidcError::Unsigned), "{alg}");
        // An empty signature part is still three parts.
        assert!(token.ends_with('.'));
    }
    // Key confusion: HS256 "signed" with the issuer's public RSA key, which anyone can fetch.
    let header = jsonwebtoken::Header {
        kid: Some("rsa-1".to_owned()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
    };
    let secret = jsonwebtoken::EncodingKey::from_secret(&key.public_bytes).unwrap();
    let forged = jsonwebtoken::encode(&header, &claims(), &secret).unwrap();
    let refused = file.verifier.verify(&forged).await.unwrap_err();
    assert_eq!(refused, OidcError::UnsupportedAlgorithm("HS256".to_owned()));
    assert_eq!(
        refused.to_string(),
        "algorithm \"HS256\" is not accepted (only RS256, RS384, RS512, ES256, ES384, EdDSA)"
    );
}

#[tokio::test]
async fn a_key_is_only_used_for_the_algorithm_of_its_type() {
    let (rsa, ec) = (rsa_key("rsa-1", 0), ec_key("ec-1"));
    let file = FileVerifier::new(&[&rsa, &ec]);
    // An ES256 token naming the RSA key, and an RS256 token naming the EC key: the right signature for the wrong key.
    let es256_on_rsa = sign(
        &TestKey {
            kid: "rsa-1".to_owned(),
            ..ec.clone()
        },
        &claims(),
    );
    assert_eq!(
        file.verifier.verify(&es256_on_rsa).await.unwrap_err().to_string(),
        "key \"rsa-1\" cannot verify ES256: it is an RSA key"
    );
    let rs256_on_ec = sign(
        &TestKey {
            kid: "ec-1".to_owned(),
            ..rsa.clone()
        },
        &claims(),
    );
    assert_eq!(
        file.verifier.verify(&rs256_on_ec).await.unwrap_err().to_string(),
        "key \"ec-1\" cannot verify RS256: it is a P-256 EC key"
    );
    // The RSA key is published for RS256: RS512 with it is refused too.
    let rs512 = sign(
        &TestKey {
            algorithm: jsonwebtoken::Algorithm::RS512,
            ..rsa.clone()
        },
        &claims(),
    );
    assert_eq!(
        file.verifier.verify(&rs512).await.unwrap_err().to_string(),
        "key \"rsa-1\" cannot verify RS512: it is published for \"RS256\""
    );
}

#[tokio::test]
async fn a_tampered_payload_or_another_keys_signature_is_refused() {
    let key = rsa_key("rsa-1", 0);
    let file = FileVerifier::new(&[&key]);
    let token = sign(&key, &claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut escalated = claims();
    escalated["groups"] = json!(["gantry:admin"]);
    let payload = forge(&json!({}), &escalated, b"");
    parts[1] = payload.split('.').nth(1).unwrap().to_owned();
    assert_eq!(
        file.verifier.verify(&parts.join(".")).await,
        Err(OidcError::BadSignature)
    );

    // Signed by the other RSA key, naming this one's kid.
    let impostor = TestKey {
        kid: "rsa-1".to_owned(),
        ..rsa_key("rsa-2", 1)
    };
    assert_eq!(
        file.verifier.verify(&sign(&impostor, &claims())).await,
        Err(OidcError::BadSignature)
    );
}

#[tokio::test]
async fn unknown_keys_and_missing_key_ids_are_refused() {
    let (rsa, other) = (rsa_key("rsa-1", 0), rsa_key("rsa-2", 1));
    let file = FileVerifier::new(&[&rsa]);
    let refused = file.verifier.verify(&sign(&other, &claims())).await.unwrap_err();
    assert_eq!(refused, OidcError::UnknownKey("rsa-2".to_owned()));
    assert_eq!(
        refused.to_string(),
        "unknown signing key \"rsa-2\": not in the issuer's key set"
    );

    // Without a kid, the one key of the algorithm's type is used; with two of them, the token must say which.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = None;
    let anonymous = jsonwebtoken::encode(&header, &claims(), &rsa.encoding).unwrap();
    assert_eq!(file.verifier.verify(&anonymous).await, Ok(ml_operator()));
    let two = FileVerifier::new(&[&rsa, &other]);
    assert_eq!(
        two.verifier.verify(&anonymous).await.unwrap_err().to_string(),
        "the token names no key (kid) and the issuer's key set holds 2 keys for RS256"
    );
}

#[tokio::test]
async fn a_token_that_maps_to_no_grant_is_refused() {
    let key = ec_key("ec-1");
    let file = FileVerifier::new(&[&key]);
    let mut claims = claims();
    claims["groups"] = json!(["everyone", "gantry:ml:owner", "gantry:ml:admin"]);
    let refused = file.verifier.verify(&sign(&key, &claims)).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "oidc:248289761001 has no grant: no value of claim \"groups\" matches a grant rule"
    );
    assert_eq!(
        crate::status::oidc_status(&refused).code(),
        tonic::Code::PermissionDenied
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused_without_echoing_them() {
    let key = ec_key("ec-1");
    let file = FileVerifier::new(&[&key]);
    let secretish = "sk_live_do_not_print_me";
    for token in [
        secretish.to_owned(),
        format!("{secretish}.x"),
        format!("{secretish}.x.y"),
        format!(
            "{}.{secretish}.sig",
            forge(&json!({"alg": "ES256", "kid": "ec-1"}), &json!({}), b"")
                .split('.')
                .next()
                .unwrap()
        ),
        "a".repeat(20_000),
    ] {
        let refused = file.verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(refused, OidcError::Malformed(_) | OidcError::BadSignature),
            "{refused:?}"
        );
        let message = refused.to_string();
        assert!(!message.contains(secretish) && message.len() < 200, "{message}");
        assert_eq!(
            crate::status::oidc_status(&refused).code(),
            tonic::Code::Unauthenticated
        );
    }
}

#[tokio::test]
async fn a_verifier_whose_key_set_never_loaded_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.json");
    let verifier = OidcVerifier::new(config(super::JwksSource::File(missing))).unwrap();
    let key = ec_key("ec-1");
    let refused = verifier.verify(&sign(&key, &claims())).await.unwrap_err();
    let OidcError::KeySetUnavailable(why) = &refused else {
        panic!("{refused:?}");
    };
    assert!(why.starts_with("reading ") && why.contains("absent.json"), "{why}");
    assert_eq!(crate::status::oidc_status(&refused).code(), tonic::Code::Unavailable);
    assert!(matches!(
        verifier.load_keys().await,
        Err(OidcError::KeySetUnavailable(_))
    ));
}

#[tokio::test]
async fn a_server_starts_without_its_issuer_but_not_without_its_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = super::JwksSource::File(dir.path().join("absent.json"));
    let refused = OidcVerifier::start(config(missing)).await.unwrap_err();
    assert!(
        refused.starts_with("the issuer's key set is unavailable: reading "),
        "{refused}"
    );

    let key = ec_key("ec-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    server.publish(503, "down".to_owned());
    let verifier = OidcVerifier::start(config(server.url()))
        .await
        .expect("starts while the issuer is down");
    assert_eq!(verifier.key_set_loads().borrow().failed, 1);
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn the_server_starts_with_its_key_file_and_not_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_path: dir.path().join("gantry.db"),
        blob_store: dir.path().join("blobs").to_string_lossy().into_owned(),
        oidc: super::OidcArgs {
            oidc_issuer: Some(ISSUER.to_owned()),
            oidc_audience: vec![AUDIENCE.to_owned()],
            oidc_jwks_file: Some(dir.path().join("absent.json")),
            ..super::OidcArgs::default()
        },
        ..crate::ServerConfig::default()
    };
    let refused = crate::start(config.clone()).await.unwrap_err().to_string();
    assert!(
        refused.starts_with("the issuer's key set is unavailable: reading "),
        "{refused}"
    );
    assert!(
        !dir.path().join("gantry.db").exists(),
        "refused before the store is opened"
    );

    // With the file in place the server starts, its verifier holding the keys.
    let key = ec_key("ec-1");
    std::fs::write(dir.path().join("absent.json"), jwks(&[&key])).unwrap();
    let server = crate::start(config).await.unwrap();
    let verifier = server.oidc().expect("oidc configured");
    assert_eq!(verifier.key_set_loads().borrow().loaded, 1);
    assert_eq!(verifier.verify(&sign(&key, &claims())).await, Ok(ml_operator()));
    server.shutdown().await.unwrap();
}

/// The server's authentication layer hands the tokens that are not API keys to the OIDC verifier: an operator's token
/// lists its projects, a token of another key or without a grant is refused, and API keys work beside it.
#[tokio::test]
async fn the_authentication_layer_takes_oidc_tokens_beside_api_keys() {
    use gantry_proto::v1 as pb;
    use gantry_proto::v1::project_service_client::ProjectServiceClient;

    fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let value = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
        request
    }

    let dir = tempfile::tempdir().unwrap();
    let key = ec_key("ec-1");
    std::fs::write(dir.path().join("jwks.json"), jwks(&[&key])).unwrap();
    let config = crate::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_path: dir.path().join("gantry.db"),
        blob_store: dir.path().join("blobs").to_string_lossy().into_owned(),
        auth: crate::AuthMode::Keys,
        oidc: super::OidcArgs {
            oidc_issuer: Some(ISSUER.to_owned()),
            oidc_audience: vec![AUDIENCE.to_owned()],
            oidc_jwks_file: Some(dir.path().join("jwks.json")),
            ..super::OidcArgs::default()
        },
        ..crate::ServerConfig::default()
    };
    let server = crate::start(config.clone()).await.unwrap();
    let store = crate::open_store(&config).await.unwrap();
    let admin = crate::auth::api::create_key(
        store.as_ref(),
        pb::CreateApiKeyRequest {
            role: pb::Role::Admin as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .token;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.local_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut projects = ProjectServiceClient::new(channel);
    let create = |id: &str| pb::CreateProjectRequest {
        id: id.to_owned(),
        ..Default::default()
    };
    projects
        .create_project(bearer(create("ml"), &admin))
        .await
        .expect("an API key");
    projects
        .create_project(bearer(create("web"), &admin))
        .await
        .expect("an API key");

    let operator = sign(&key, &claims());
    let listed = projects
        .list_projects(bearer(pb::ListProjectsRequest {}, &operator))
        .await
        .expect("an OIDC token")
        .into_inner();
    let ids: Vec<&str> = listed.projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["ml"], "an operator of ml sees ml only");
    let refused = projects
        .create_project(bearer(create("other"), &operator))
        .await
        .expect_err("operators do not create projects");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    let stranger = sign(&ec_key("ec-2"), &claims());
    let refused = projects
        .list_projects(bearer(pb::ListProjectsRequest {}, &stranger))
        .await
        .expect_err("a key not in the issuer's set");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(!refused.message().contains(&stranger));
    let mut no_grant = claims();
    no_grant["groups"] = json!(["everyone"]);
    let refused = projects
        .list_projects(bearer(pb::ListProjectsRequest {}, &sign(&key, &no_grant)))
        .await
        .expect_err("no grant");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    server.shutdown().await.unwrap();
}
