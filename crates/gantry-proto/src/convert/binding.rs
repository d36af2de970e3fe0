//! Bindings, binding data, promises and attribute paths.

use gantry_core::model::{AttrStep, Binding, BindingData, Promise};

use super::{ConversionError, ResultExt, into_list, into_map, list, map, required_with};
use crate::v1 as pb;

impl TryFrom<pb::Binding> for Binding {
    type Error = ConversionError;

    fn try_from(binding: pb::Binding) -> Result<Self, Self::Error> {
        Ok(Binding {
            data: required_with("binding", binding.binding, "missing binding data")?,
            var: binding.var,
        })
    }
}

impl From<Binding> for pb::Binding {
    fn from(binding: Binding) -> Self {
        pb::Binding {
            var: binding.var,
            binding: Some(binding.data.into()),
        }
    }
}

impl TryFrom<pb::BindingData> for BindingData {
    type Error = ConversionError;

    fn try_from(data: pb::BindingData) -> Result<Self, Self::Error> {
        use pb::binding_data::Value;
        let Some(value) = data.value else {
            return Err(ConversionError::new("", "binding data has no value set"));
        };
        Ok(match value {
            Value::Literal(literal) => BindingData::Literal(literal.try_into().at("literal")?),
            Value::Promise(promise) => BindingData::Promise(promise.try_into().at("promise")?),
            Value::Collection(collection) => {
                BindingData::Collection(list("bindings", collection.bindings).at("collection")?)
            }
            Value::Map(binding_map) => BindingData::Map(map("bindings", binding_map.bindings).at("map")?),
        })
    }
}

impl From<BindingData> for pb::BindingData {
    fn from(data: BindingData) -> Self {
        use pb::binding_data::Value;
        let value = match data {
            BindingData::Literal(literal) => Value::Literal(literal.into()),
            BindingData::Promise(promise) => Value::Promise(promise.into()),
            BindingData::Collection(bindings) => Value::Collection(pb::BindingCollection {
                bindings: into_list(bindings),
            }),
            BindingData::Map(bindings) => Value::Map(pb::BindingMap {
                bindings: into_map(bindings),
            }),
        };
        pb::BindingData { value: Some(value) }
    }
}

impl TryFrom<pb::Promise> for Promise {
    type Error = ConversionError;

    fn try_from(promise: pb::Promise) -> Result<Self, Self::Error> {
        Ok(Promise {
            attr_path: list("attr_path", promise.attr_path)?,
            node_id: promise.node_id,
            output: promise.output,
        })
    }
}

impl From<Promise> for pb::Promise {
    fn from(promise: Promise) -> Self {
        pb::Promise {
            node_id: promise.node_id,
            output: promise.output,
            attr_path: into_list(promise.attr_path),
        }
    }
}

impl TryFrom<pb::AttrStep> for AttrStep {
    type Error = ConversionError;

    fn try_from(step: pb::AttrStep) -> Result<Self, Self::Error> {
        use pb::attr_step::Step;
        match step.step {
            Some(Step::Index(index)) => Ok(AttrStep::Index(index)),
            Some(Step::Key(key)) => Ok(AttrStep::Key(key)),
            None => Err(ConversionError::new(
                "",
                "attribute step has neither an index nor a key",
            )),
        }
    }
}

impl From<AttrStep> for pb::AttrStep {
    fn from(step: AttrStep) -> Self {
        use pb::attr_step::Step;
        let step = match step {
            AttrStep::Index(index) => Step::Index(index),
            AttrStep::Key(key) => Step::Key(key),
        };
        pb::AttrStep { step: Some(step) }
    }
}
