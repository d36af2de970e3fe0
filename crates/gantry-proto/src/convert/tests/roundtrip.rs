//! core -> wire -> bytes -> wire -> core is the identity.

use gantry_core::model::{
    Binding, DynamicJobSpec, ExecutionError, Identifier, LaunchPlan, Literal, LiteralMap, LiteralType, Node,
    TaskTemplate, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodePhase};
use proptest::prelude::*;
use prost::Message;

use super::{spec_strategies, strategies};
use crate::convert::{ConversionError, decode_enum};
use crate::v1 as pb;

/// Converts to the wire, encodes, decodes and converts back.
fn through_the_wire<C, P>(value: C) -> Result<C, ConversionError>
where
    P: From<C> + Message + Default + PartialEq + std::fmt::Debug,
    C: TryFrom<P, Error = ConversionError>,
{
    let wire = P::from(value);
    let bytes = wire.encode_to_vec();
    let decoded = P::decode(bytes.as_slice()).expect("a message we encoded decodes");
    assert_eq!(decoded, wire, "bytes round trip");
    C::try_from(decoded)
}

macro_rules! roundtrip {
    ($($test:ident: $strategy:expr => $wire:ty;)+) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            $(
                #[test]
                fn $test(value in $strategy) {
                    let back = through_the_wire::<_, $wire>(value.clone());
                    prop_assert_eq!(back, Ok(value));
                }
            )+
        }
    };
}

roundtrip! {
    literal_type_round_trips: strategies::literal_type() => pb::LiteralType;
    literal_round_trips: strategies::literal() => pb::Literal;
    literal_map_round_trips: strategies::literal_map() => pb::LiteralMap;
    identifier_round_trips: strategies::identifier() => pb::Identifier;
    variable_round_trips: strategies::variable() => pb::Variable;
    interface_round_trips: strategies::interface() => pb::TypedInterface;
    task_template_round_trips: spec_strategies::task_template() => pb::TaskTemplate;
    binding_round_trips: spec_strategies::binding() => pb::Binding;
    node_round_trips: spec_strategies::node() => pb::Node;
    workflow_template_round_trips: spec_strategies::workflow_template() => pb::WorkflowTemplate;
    dynamic_job_spec_round_trips: spec_strategies::dynamic_job_spec() => pb::DynamicJobSpec;
    launch_plan_round_trips: spec_strategies::launch_plan() => pb::LaunchPlan;
    execution_error_round_trips: strategies::execution_error() => pb::ExecutionError;
}

/// Every core phase maps to a distinct wire value and back; the wire enum has exactly one more value, UNSPECIFIED.
macro_rules! phase_round_trip {
    ($test:ident, $core:ty, $wire:ty, $all:expr, $wire_count:expr) => {
        #[test]
        fn $test() {
            let mut seen = std::collections::BTreeSet::new();
            for phase in $all {
                let raw = <$wire>::from(phase) as i32;
                assert_ne!(raw, 0, "{phase:?} maps to UNSPECIFIED");
                assert!(seen.insert(raw), "{phase:?} maps to a value already used");
                assert_eq!(decode_enum::<$wire, $core>("phase", raw), Ok(phase));
            }
            assert_eq!(
                seen.len() + 1,
                $wire_count,
                "wire and core enums have the same values"
            );
            let error = decode_enum::<$wire, $core>("phase", 0).unwrap_err();
            assert_eq!(error.field, "phase");
            assert!(error.message.ends_with("is unspecified"), "{error}");
        }
    };
}

phase_round_trip!(
    execution_phases_round_trip,
    ExecutionPhase,
    pb::ExecutionPhase,
    ExecutionPhase::ALL,
    pb::ExecutionPhase::TimedOut as usize + 1
);
phase_round_trip!(
    node_phases_round_trip,
    NodePhase,
    pb::NodePhase,
    NodePhase::ALL,
    pb::NodePhase::Recovered as usize + 1
);
phase_round_trip!(
    attempt_phases_round_trip,
    AttemptPhase,
    pb::AttemptPhase,
    AttemptPhase::ALL,
    pb::AttemptPhase::Aborted as usize + 1
);
phase_round_trip!(
    cache_statuses_round_trip,
    CacheStatus,
    pb::CacheStatus,
    [
        CacheStatus::Disabled,
        CacheStatus::Miss,
        CacheStatus::Hit,
        CacheStatus::Populated,
        CacheStatus::Overwritten
    ],
    pb::CacheStatus::Overwritten as usize + 1
);

#[test]
fn absent_optional_messages_take_the_documented_defaults() {
    let task = pb::TaskTemplate {
        id: Some(Identifier::new("p", "d", "t", "v").into()),
        ..Default::default()
    };
    let task = TaskTemplate::try_from(task).unwrap();
    assert_eq!(task.interface, TypedInterface::default());
    assert_eq!(task.metadata, gantry_core::model::TaskMetadata::default());

    let metadata = pb::TaskMetadata {
        retries: Some(pb::RetryPolicy {
            user_retries: 2,
            ..Default::default()
        }),
        ..Default::default()
    };
    let metadata = gantry_core::model::TaskMetadata::try_from(metadata).unwrap();
    assert_eq!(metadata.queue, crate::convert::DEFAULT_QUEUE);
    assert_eq!(metadata.retries.user_retries, 2);
    assert_eq!(
        metadata.retries.system_retries, 0,
        "a given retry policy is taken as it is"
    );
    assert_eq!(
        metadata.retries.initial_backoff,
        gantry_core::model::RetryPolicy::default().initial_backoff
    );

    let launch_plan = pb::LaunchPlan {
        id: Some(Identifier::new("p", "d", "lp", "v").into()),
        target: Some(Identifier::new("p", "d", "wf", "v").into()),
        target_type: pb::ResourceType::Workflow as i32,
        ..Default::default()
    };
    let launch_plan = LaunchPlan::try_from(launch_plan).unwrap();
    assert_eq!(launch_plan.default_inputs, LiteralMap::new());
    assert_eq!(launch_plan.max_parallelism, None);

    let array = pb::ArrayNode {
        node: Some(Box::new(
            Node::task("n", Identifier::new("p", "d", "t", "v"), Vec::new()).into(),
        )),
        ..Default::default()
    };
    let array = gantry_core::model::ArrayNode::try_from(array).unwrap();
    assert_eq!(array.success, gantry_core::model::SuccessCriteria::All);
}

#[test]
fn a_fan_out_spec_survives_the_wire() {
    let task_id = Identifier::new("p", "d", "square", "v1");
    let spec = DynamicJobSpec {
        nodes: (0..3)
            .map(|i| {
                Node::task(
                    format!("dn{i}"),
                    task_id.clone(),
                    vec![Binding::literal("x", Literal::Integer(i))],
                )
            })
            .collect(),
        min_successes: Some(2),
        outputs: vec![Binding::new(
            "out",
            gantry_core::model::BindingData::Collection(
                (0..3)
                    .map(|i| {
                        gantry_core::model::BindingData::Promise(gantry_core::model::Promise::new(
                            format!("dn{i}"),
                            "y",
                        ))
                    })
                    .collect(),
            ),
        )],
        tasks: vec![TaskTemplate {
            id: task_id,
            interface: TypedInterface {
                inputs: vec![Variable::new("x", LiteralType::Integer)],
                outputs: vec![Variable::new("y", LiteralType::Integer)],
            },
            metadata: Default::default(),
            container: None,
            plugin: None,
        }],
        subworkflows: Vec::<WorkflowTemplate>::new(),
    };
    assert_eq!(through_the_wire::<_, pb::DynamicJobSpec>(spec.clone()), Ok(spec));
    let error = ExecutionError::user(
        "compile_error",
        "node \"dn3\" input \"x\": expected integer, got string",
    );
    assert_eq!(through_the_wire::<_, pb::ExecutionError>(error.clone()), Ok(error));
}
