//! Type tags (Flyte's `TypeStructure.tag`) survive every path: a registered interface read back after a restart, and
//! a union value stamped with a tagged variant, from a worker's outputs through a promise to the next worker's
//! inputs, even where two variants differ only by their tags.

use std::sync::Arc;

use gantry_core::model::{
    Binding, DynamicJobSpec, Literal, LiteralMap, LiteralType, Node, Promise, UnionValue, Variable,
};
use gantry_core::state::{AttemptResult, ExecutionPhase};

use super::harness::{Backend, Harness, assert_completed, complete, id, inputs, int_task, list_task};
use crate::{Registration, codec};

fn counted() -> LiteralType {
    let tagged = |tag: &str| LiteralType::tagged(tag.to_owned(), LiteralType::Integer);
    LiteralType::Union(vec![tagged("int"), tagged("count")])
}

fn as_count(value: i64) -> Literal {
    Literal::Union(Box::new(UnionValue {
        value: Literal::Integer(value),
        variant: LiteralType::tagged("count".to_owned(), LiteralType::Integer),
    }))
}

async fn a_tagged_stamp_travels_from_one_worker_to_the_next(backend: Backend) {
    let mut harness = Harness::new(backend).await;
    // `produce(x) -> y: counted`, `consume(y: counted) -> y: int`, and a generator wiring one into the other.
    let mut produce = int_task("produce", "q");
    produce.interface.outputs = vec![Variable::new("y", counted())];
    let mut consume = int_task("consume", "q");
    consume.interface.inputs = vec![Variable::new("y", counted())];
    let mut generator = list_task("generator", "q");
    generator.interface.outputs = vec![Variable::new("y", LiteralType::Integer)];
    harness
        .register(
            [&produce, &consume, &generator]
                .map(|task| Registration::Task(task.clone()))
                .to_vec(),
        )
        .await;
    harness.restart().await;

    let execution_id = harness.run_task(&generator, inputs(0)).await.id;
    let claimed = harness.claim("w", "q").await;
    let spec = DynamicJobSpec {
        nodes: vec![
            Node::task("p", id("produce"), vec![Binding::literal("x", Literal::Integer(3))]),
            Node::task("c", id("consume"), vec![Binding::promise("y", "p", "y")]),
        ],
        outputs: vec![Binding::new(
            "y",
            gantry_core::model::BindingData::Promise(Promise::new("c", "y")),
        )],
        ..DynamicJobSpec::default()
    };
    let result = AttemptResult::DynamicSpec(Arc::new(spec));
    assert_completed(&harness.apply_one(complete("w", &claimed[0], result)).await);

    let produced = harness.claim("w", "q").await;
    assert_eq!(produced.len(), 1);
    assert_eq!(
        produced[0].task.interface.outputs[0].ty,
        counted(),
        "tags read back from the store"
    );
    let y = LiteralMap::from([("y".to_owned(), as_count(3))]);
    assert_completed(
        &harness
            .apply_one(complete("w", &produced[0], AttemptResult::Outputs(y)))
            .await,
    );

    let consumed = harness.claim("w", "q").await;
    assert_eq!(consumed.len(), 1);
    let received = codec::decode_literals(&consumed[0].inputs).expect("inputs");
    assert_eq!(
        received["y"],
        as_count(3),
        "the `count` stamp, not the first variant of that type"
    );
    let z = LiteralMap::from([("y".to_owned(), Literal::Integer(3))]);
    assert_completed(
        &harness
            .apply_one(complete("w", &consumed[0], AttemptResult::Outputs(z)))
            .await,
    );
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Succeeded);
    harness.finish().await;
}

on_both_stores!(a_tagged_stamp_travels_from_one_worker_to_the_next);
