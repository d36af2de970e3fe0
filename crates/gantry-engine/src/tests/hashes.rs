//! A literal's hash (Flyte's `Literal.hash`) travels with its value: from an execution's inputs to the worker, from a
//! worker's outputs into the stored outputs and a dynamic parent's assembled list, and it keys the cache in place of
//! the value.

use std::sync::Arc;

use gantry_core::model::{Literal, LiteralMap};
use gantry_core::state::{AttemptResult, ExecutionPhase};

use super::harness::{
    Backend, Harness, assert_completed, complete, fan_out, inputs, int_task, register_child_and_generator,
};
use crate::{Registration, codec};

fn hashed(hash: &str, value: i64) -> Literal {
    Literal::hashed(hash.to_owned(), Literal::Integer(value))
}

fn stored(bytes: Option<&[u8]>) -> LiteralMap {
    codec::decode_literals(bytes.expect("outputs")).expect("decode")
}

async fn a_hash_travels_with_its_value_and_keys_the_cache(backend: Backend) {
    let harness = Harness::new(backend).await;
    let mut task = int_task("hashed", "q");
    task.metadata.cache = true;
    task.metadata.cache_version = "1".to_owned();
    harness.register(vec![Registration::Task(task.clone())]).await;
    let x = |hash, value| LiteralMap::from([("x".to_owned(), hashed(hash, value))]);

    let first = harness.run_task(&task, x("frame-1", 3)).await.id;
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1);
    let received = codec::decode_literals(&claimed[0].inputs).expect("inputs");
    assert_eq!(
        received["x"],
        hashed("frame-1", 3),
        "the worker gets the hash with the value"
    );
    let y = LiteralMap::from([("y".to_owned(), hashed("out-1", 7))]);
    assert_completed(
        &harness
            .apply_one(complete("w", &claimed[0], AttemptResult::Outputs(y.clone())))
            .await,
    );
    let done = harness.execution(first).await;
    assert_eq!(done.phase, ExecutionPhase::Succeeded);
    assert_eq!(stored(done.outputs.as_deref()), y, "the outputs keep their hash");

    // Another value under the same hash is the same entry: nothing runs, the first outputs come back.
    let hit = harness.run_task(&task, x("frame-1", 4)).await.id;
    assert!(harness.claim("w", "q").await.is_empty(), "a cache hit runs nothing");
    let hit = harness.execution(hit).await;
    assert_eq!(hit.phase, ExecutionPhase::Succeeded);
    assert_eq!(stored(hit.outputs.as_deref()), y);
    // The same value under another hash is another entry.
    harness.run_task(&task, x("frame-2", 3)).await;
    assert_eq!(harness.claim("w", "q").await.len(), 1, "another hash misses");
    harness.finish().await;
}

async fn a_dynamic_parent_gathers_its_childrens_hashes(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (child, generator) = register_child_and_generator(&harness).await;
    let execution_id = harness.run_task(&generator, inputs(0)).await.id;
    let claimed = harness.claim("w", "q").await;
    let spec = AttemptResult::DynamicSpec(Arc::new(fan_out(&child, 2)));
    assert_completed(&harness.apply_one(complete("w", &claimed[0], spec)).await);
    for assignment in harness.claim("w", "q").await {
        let x = codec::decode_literals(&assignment.inputs).expect("inputs")["x"].clone();
        let Literal::Integer(x) = x else { panic!("x is {x:?}") };
        let y = LiteralMap::from([("y".to_owned(), hashed(&format!("h{x}"), 10 * x))]);
        assert_completed(
            &harness
                .apply_one(complete("w", &assignment, AttemptResult::Outputs(y)))
                .await,
        );
    }
    let done = harness.execution(execution_id).await;
    assert_eq!(done.phase, ExecutionPhase::Succeeded);
    let gathered = Literal::Collection(vec![hashed("h0", 0), hashed("h1", 10)]);
    assert_eq!(stored(done.outputs.as_deref())["y"], gathered);
    harness.finish().await;
}

on_both_stores!(
    a_hash_travels_with_its_value_and_keys_the_cache,
    a_dynamic_parent_gathers_its_childrens_hashes,
);
