//! ListExecutions' request as the engine's filter: every field checked, a refusal INVALID_ARGUMENT naming the field
//! (admin.proto, `ListExecutionsRequest`). Kept apart from the handler so that it stays a call and a conversion.

use gantry_core::model::ResourceKind;
use gantry_core::names;
use gantry_engine::{ExecutionFilter, TargetFilter};
use gantry_proto::convert::decode_enum;
use gantry_proto::v1 as pb;
use prost_types::Timestamp;
use tonic::Status;

use crate::edge;

/// The filter a ListExecutions request asks for, checked.
pub fn execution_filter(r: &pb::ListExecutionsRequest) -> Result<ExecutionFilter, Status> {
    edge::project_or_domain("project", &r.project)?;
    edge::project_or_domain("domain", &r.domain)?;
    let phases = r
        .phases
        .iter()
        .enumerate()
        .map(|(i, raw)| decode_enum::<pb::ExecutionPhase, _>(&format!("phases[{i}]"), *raw))
        .collect::<Result<Vec<_>, _>>()?;
    let target = r
        .target
        .as_ref()
        .map(|target| target_filter(target, &r.project, &r.domain))
        .transpose()?;
    let created_after = r
        .created_after
        .as_ref()
        .map(|time| millis("created_after", time))
        .transpose()?;
    let created_before = r
        .created_before
        .as_ref()
        .map(|time| millis("created_before", time))
        .transpose()?;
    if let (Some(after), Some(before)) = (&r.created_after, &r.created_before)
        && (before.seconds, before.nanos) <= (after.seconds, after.nanos)
    {
        return Err(Status::invalid_argument("created_before: must be after created_after"));
    }
    edge::optional_name("search", &r.search, names::EXECUTION_NAME)?;
    Ok(ExecutionFilter {
        project: Some(r.project.clone()),
        domain: Some(r.domain.clone()),
        phases,
        target,
        created_after,
        created_before,
        search: (!r.search.is_empty()).then(|| r.search.clone()),
    })
}

/// A target filter; its project and domain default to the listing's.
fn target_filter(target: &pb::ExecutionTargetFilter, project: &str, domain: &str) -> Result<TargetFilter, Status> {
    let kind: ResourceKind = decode_enum::<pb::ResourceType, _>("target.type", target.r#type)?;
    let or_listing = |field: &str, given: &str, listing: &str| -> Result<String, Status> {
        if given.is_empty() {
            return Ok(listing.to_owned());
        }
        edge::project_or_domain(field, given)?;
        Ok(given.to_owned())
    };
    edge::required("target.name", &target.name)?;
    edge::name("target.name", &target.name, names::RESOURCE_NAME)?;
    edge::optional_name("target.version", &target.version, names::RESOURCE_NAME)?;
    Ok(TargetFilter {
        kind,
        project: or_listing("target.project", &target.project, project)?,
        domain: or_listing("target.domain", &target.domain, domain)?,
        name: target.name.clone(),
        version: (!target.version.is_empty()).then(|| target.version.clone()),
    })
}

/// A timestamp as the store's milliseconds, rounded up: rows hold milliseconds, and an execution created at 10 ms
/// is before a bound of 10.5 ms, for `created_after` (inclusive) and `created_before` (exclusive) alike.
fn millis(field: &str, time: &Timestamp) -> Result<i64, Status> {
    if !(0..1_000_000_000).contains(&time.nanos) {
        return Err(Status::invalid_argument(format!(
            "{field}: nanos must be within 0 and 999,999,999, got {}",
            time.nanos
        )));
    }
    let sub_millis = (i64::from(time.nanos) + 999_999) / 1_000_000;
    Ok(time.seconds.saturating_mul(1_000).saturating_add(sub_millis))
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn request() -> pb::ListExecutionsRequest {
        pb::ListExecutionsRequest {
            project: "p".to_owned(),
            domain: "d".to_owned(),
            ..Default::default()
        }
    }

    fn refused(r: pb::ListExecutionsRequest) -> String {
        let status = execution_filter(&r).expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status.message().to_owned()
    }

    fn names_field(message: String, field: &str) {
        assert!(message.contains(field), "{message:?} does not name {field}");
    }

    fn workflow(name: &str) -> pb::ExecutionTargetFilter {
        pb::ExecutionTargetFilter {
            r#type: pb::ResourceType::Workflow as i32,
            name: name.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn a_target_defaults_to_the_listings_project_and_domain() {
        let filter = execution_filter(&pb::ListExecutionsRequest {
            target: Some(workflow("wf")),
            ..request()
        })
        .expect("valid");
        let target = filter.target.expect("a target");
        assert_eq!(
            (
                target.kind,
                target.project.as_str(),
                target.domain.as_str(),
                target.version
            ),
            (ResourceKind::Workflow, "p", "d", None)
        );
        let elsewhere = execution_filter(&pb::ListExecutionsRequest {
            target: Some(pb::ExecutionTargetFilter {
                project: "lib".to_owned(),
                version: "v1".to_owned(),
                ..workflow("wf")
            }),
            ..request()
        })
        .expect("valid");
        let target = elsewhere.target.expect("a target");
        assert_eq!(
            (target.project.as_str(), target.version.as_deref()),
            ("lib", Some("v1"))
        );
    }

    #[test]
    fn every_malformed_field_is_named() {
        let with_target = |target| pb::ListExecutionsRequest {
            target: Some(target),
            ..request()
        };
        names_field(
            refused(with_target(pb::ExecutionTargetFilter::default())),
            "target.type",
        );
        names_field(refused(with_target(workflow(""))), "target.name");
        names_field(refused(with_target(workflow("wf@v1"))), "target.name");
        let bad_version = pb::ExecutionTargetFilter {
            version: "v\n1".to_owned(),
            ..workflow("wf")
        };
        names_field(refused(with_target(bad_version)), "target.version");
        let bad_project = pb::ExecutionTargetFilter {
            project: "Lib".to_owned(),
            ..workflow("wf")
        };
        names_field(refused(with_target(bad_project)), "target.project");
        let search = |text: &str| pb::ListExecutionsRequest {
            search: text.to_owned(),
            ..request()
        };
        names_field(refused(search("run 1")), "search");
        names_field(refused(search(&"r".repeat(64))), "search");
        let at = |seconds, nanos| Some(Timestamp { seconds, nanos });
        let range = |after, before| pb::ListExecutionsRequest {
            created_after: after,
            created_before: before,
            ..request()
        };
        names_field(refused(range(at(10, 0), at(10, 0))), "created_before");
        names_field(refused(range(at(10, -1), None)), "created_after");
        names_field(refused(range(None, at(10, 1_000_000_000))), "created_before");
    }

    #[test]
    fn times_round_up_to_the_stores_milliseconds() {
        let filter = execution_filter(&pb::ListExecutionsRequest {
            created_after: Some(Timestamp {
                seconds: 10,
                nanos: 500_000,
            }),
            created_before: Some(Timestamp { seconds: 11, nanos: 0 }),
            search: "nightly".to_owned(),
            ..request()
        })
        .expect("valid");
        assert_eq!(
            (filter.created_after, filter.created_before),
            (Some(10_001), Some(11_000))
        );
        assert_eq!(filter.search.as_deref(), Some("nightly"));
    }
}
