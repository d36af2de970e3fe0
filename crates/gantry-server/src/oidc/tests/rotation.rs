//! Key rotation: a new key picked up from a file and from a URL, the cache serving repeated tokens without fetching,
//! the floor keeping unknown keys from hammering the issuer, the periodic refresh, and failing loads keeping the keys
//! held.

use std::sync::Arc;

use super::super::{KeySetLoads, OidcError, OidcVerifier};
use super::support::*;

/// Waits until the verifier's key set loads reach `until` (a background load ends without anyone awaiting it).
async fn loads_reach(verifier: &OidcVerifier, until: impl Fn(&KeySetLoads) -> bool) -> KeySetLoads {
    let mut loads = verifier.key_set_loads();
    *loads.wait_for(|loads| until(loads)).await.expect("verifier alive")
}

#[tokio::test]
async fn a_rotated_key_set_file_is_picked_up() {
    let (old, new) = (rsa_key("2026-11", 0), ec_key("2026-12"));
    let file = FileVerifier::new(&[&old]);
    assert!(file.verifier.verify(&sign(&old, &claims())).await.is_ok());

    // The issuer rotates: the file now holds the new key alone. A token of the new key right after the first load
    // is refused, the floor not yet passed; once it passed, it loads the file again and passes.
    file.publish(&[&new]);
    let new_token = sign(&new, &claims());
    assert_eq!(
        file.verifier.verify(&new_token).await,
        Err(OidcError::UnknownKey("2026-12".to_owned()))
    );
    file.clock.advance(MIN_REFRESH);
    assert!(file.verifier.verify(&new_token).await.is_ok());
    assert_eq!(
        *file.verifier.key_set_loads().borrow(),
        KeySetLoads { loaded: 2, failed: 0 }
    );
    // The old key is gone with the file's old content.
    file.clock.advance(MIN_REFRESH);
    assert_eq!(
        file.verifier.verify(&sign(&old, &claims())).await,
        Err(OidcError::UnknownKey("2026-11".to_owned()))
    );
}

#[tokio::test]
async fn a_key_set_url_is_cached_refreshed_and_floored() {
    let (first, second, third) = (rsa_key("k1", 0), ec_key("k2"), rsa_key("k3", 1));
    let server = JwksServer::start(jwks(&[&first])).await;
    let clock = ManualClock::new();
    let verifier = OidcVerifier::with_clock(config(server.url()), clock.clone()).unwrap();
    assert_eq!(verifier.load_keys().await, Ok(1));
    assert_eq!(server.fetches(), 1);

    // Cached: many tokens, no more fetches.
    for _ in 0..5 {
        assert!(verifier.verify(&sign(&first, &claims())).await.is_ok());
    }
    assert_eq!(server.fetches(), 1);

    // Rotation at the issuer. Within the floor, tokens naming unknown keys (the new one, and junk) fetch nothing, even
    // twenty at once.
    server.publish(200, jwks(&[&first, &second]));
    let new_token = sign(&second, &claims());
    assert_eq!(
        verifier.verify(&new_token).await,
        Err(OidcError::UnknownKey("k2".to_owned()))
    );
    let junk: Vec<_> = (0..20)
        .map(|index| {
            let token = sign(
                &TestKey {
                    kid: format!("junk-{index}"),
                    ..second.clone()
                },
                &claims(),
            );
            let verifier = verifier.clone();
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for refused in junk {
        assert!(matches!(refused.await.unwrap(), Err(OidcError::UnknownKey(_))));
    }
    assert_eq!(server.fetches(), 1, "the floor holds");

    // Past the floor, the new key's token fetches once, and twenty at once still fetch once.
    clock.advance(MIN_REFRESH);
    let concurrent: Vec<_> = (0..20)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), new_token.clone());
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for verified in concurrent {
        assert!(verified.await.unwrap().is_ok());
    }
    assert_eq!(server.fetches(), 2, "one fetch for twenty tokens of the new key");

    // Periodic refresh: once the set is older than the refresh interval, a token is checked against the keys held
    // while they load again in the background.
    server.publish(200, jwks(&[&first, &second, &third]));
    clock.advance(REFRESH);
    assert!(
        verifier.verify(&sign(&first, &claims())).await.is_ok(),
        "checked against the keys held"
    );
    let loads = loads_reach(&verifier, |loads| loads.loaded == 3).await;
    assert_eq!(loads, KeySetLoads { loaded: 3, failed: 0 });
    assert_eq!(server.fetches(), 3);
    assert!(verifier.verify(&sign(&third, &claims())).await.is_ok());
    assert_eq!(server.fetches(), 3, "the new key came with the periodic load");

    // A token of a new key arriving with the one that starts the periodic load (here, right after it, before the
    // background task ran): both pass, on one fetch, the second token's request running the load the first claimed.
    let fourth = ec_key("k4");
    server.publish(200, jwks(&[&first, &fourth]));
    clock.advance(REFRESH);
    let (known_token, new_token) = (sign(&first, &claims()), sign(&fourth, &claims()));
    let (known, new) = tokio::join!(verifier.verify(&known_token), verifier.verify(&new_token));
    assert!(known.is_ok() && new.is_ok(), "{known:?} {new:?}");
    loads_reach(&verifier, |loads| loads.loaded == 4).await;
    assert_eq!(server.fetches(), 4);
}

#[tokio::test]
async fn a_failing_key_set_url_keeps_the_keys_held() {
    let key = ec_key("k1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let clock = ManualClock::new();
    let verifier = OidcVerifier::with_clock(config(server.url()), Arc::clone(&clock) as _).unwrap();
    assert!(verifier.verify(&sign(&key, &claims())).await.is_ok());

    // The issuer fails, then publishes garbage: the keys held stay in use, and each failure is counted.
    server.publish(503, "down".to_owned());
    clock.advance(REFRESH);
    assert!(verifier.verify(&sign(&key, &claims())).await.is_ok());
    loads_reach(&verifier, |loads| loads.failed == 1).await;
    server.publish(200, "{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}".to_owned());
    clock.advance(MIN_REFRESH);
    assert!(verifier.verify(&sign(&key, &claims())).await.is_ok());
    let loads = loads_reach(&verifier, |loads| loads.failed == 2).await;
    assert_eq!(loads, KeySetLoads { loaded: 1, failed: 2 });
    assert_eq!(server.fetches(), 3);

    // A verifier that never got keys says why.
    let fresh = OidcVerifier::with_clock(config(server.url()), ManualClock::new()).unwrap();
    server.publish(503, "down".to_owned());
    let refused = fresh.verify(&sign(&key, &claims())).await.unwrap_err();
    let OidcError::KeySetUnavailable(why) = &refused else {
        panic!("{refused:?}");
    };
    assert!(why.ends_with("HTTP 503 Service Unavailable"), "{why}");
}
