//! The data model: literals and their types, interfaces, bindings, task and workflow templates, dynamic job specs,
//! launch plans and errors. Plain data with no behaviour beyond small helpers; the rest of the core acts on it.

mod binding;
mod dynamic;
mod error;
mod identifier;
mod interface;
mod launch_plan;
mod literal;
mod task;
mod types;
mod workflow;

pub use binding::{AttrStep, Binding, BindingData, Promise};
pub use dynamic::DynamicJobSpec;
pub use error::{ErrorKind, ExecutionError};
pub use identifier::{Identifier, ResourceKind};
pub use interface::{TypedInterface, Variable};
pub use launch_plan::{CatchUp, LaunchPlan, Schedule, ScheduleKind};
pub use literal::{
    Blob, Duration, ErrorValue, Hashed, Literal, LiteralMap, Offloaded, StructValue, Timestamp, UnionValue,
};
pub use task::{ContainerSpec, MAX_PLUGIN_BYTES, Resources, RetryPolicy, TaskMetadata, TaskPlugin, TaskTemplate};
pub use types::{BlobDimensionality, BlobType, LiteralType, StructType, TaggedType};
pub use workflow::{
    ArrayNode, BooleanExpr, BranchNode, CacheOverride, ComparisonOp, ConjunctionOp, ElseArm, FailurePolicy,
    GateCondition, GateNode, IfBlock, Node, NodeOverrides, NodeTarget, Operand, OverrideSet, SuccessCriteria,
    WorkflowTemplate, references, rename_references,
};
