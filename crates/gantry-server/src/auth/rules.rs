//! Authorization in one place: for every RPC, the role it needs and where the project it acts in comes from. The
//! authentication layer refuses a caller whose grants could never allow the RPC (PERMISSION_DENIED) before any
//! handler runs; the handler then finds the project (from the request, or from the execution it names) and asks the
//! request's [`Access`] whether the caller holds the role there.
//!
//! An RPC missing from [`RULES`] is refused to everyone but admins, so a new RPC cannot slip through unguarded (and
//! the authorization matrix test, which walks the service descriptors, fails until it has a rule).

use tonic::{Request, Status};

use crate::caller::{Caller, Role};

/// Where the project an RPC acts in is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No project: keys and project administration, which only admins do.
    Global,
    /// The project the request names (a registration's id, a new execution's project): PERMISSION_DENIED outside it.
    Named,
    /// The project of the execution the request names: NOT_FOUND, as for an execution that does not exist, when the
    /// caller may not see it.
    Execution,
    /// A listing of one project: empty when the caller may not see it.
    Listing,
    /// The worker RPCs: claims only in the caller's project, leases bound to the caller.
    Worker,
}

/// What an RPC needs: `role` (or one that allows it), or, when `or_worker`, the worker role instead (reads that
/// workers make too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub role: Role,
    pub scope: Scope,
    pub or_worker: bool,
}

const fn rule(role: Role, scope: Scope) -> Rule {
    Rule {
        role,
        scope,
        or_worker: false,
    }
}

/// A read that viewers and workers both make.
const fn read_or_work(scope: Scope) -> Rule {
    Rule {
        role: Role::Viewer,
        scope,
        or_worker: true,
    }
}

impl Rule {
    /// Whether a grant of `held` allows this rule.
    pub fn allowed_by(&self, held: Role) -> bool {
        allows(held, self.role) || (self.or_worker && allows(held, Role::Worker))
    }
}

/// Every RPC of the authenticated services, by its gRPC path.
pub const RULES: &[(&str, Rule)] = &[
    (
        "/gantry.v1.AdminService/RegisterTask",
        rule(Role::Operator, Scope::Named),
    ),
    ("/gantry.v1.AdminService/GetTask", rule(Role::Viewer, Scope::Named)),
    ("/gantry.v1.AdminService/ListTasks", rule(Role::Viewer, Scope::Listing)),
    (
        "/gantry.v1.AdminService/RegisterWorkflow",
        rule(Role::Operator, Scope::Named),
    ),
    ("/gantry.v1.AdminService/GetWorkflow", rule(Role::Viewer, Scope::Named)),
    (
        "/gantry.v1.AdminService/ListWorkflows",
        rule(Role::Viewer, Scope::Listing),
    ),
    (
        "/gantry.v1.AdminService/RegisterLaunchPlan",
        rule(Role::Operator, Scope::Named),
    ),
    (
        "/gantry.v1.AdminService/GetLaunchPlan",
        rule(Role::Viewer, Scope::Named),
    ),
    (
        "/gantry.v1.AdminService/ListLaunchPlans",
        rule(Role::Viewer, Scope::Listing),
    ),
    (
        "/gantry.v1.AdminService/CreateExecution",
        rule(Role::Operator, Scope::Named),
    ),
    (
        "/gantry.v1.AdminService/GetExecution",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/ListExecutions",
        rule(Role::Viewer, Scope::Listing),
    ),
    (
        "/gantry.v1.AdminService/GetExecutionData",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/ListNodeExecutions",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/GetNodeExecution",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/GetNodeExecutionData",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/ListTaskAttempts",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/WatchExecution",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/TerminateExecution",
        rule(Role::Operator, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/RelaunchExecution",
        rule(Role::Operator, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/RecoverExecution",
        rule(Role::Operator, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/ListSignals",
        rule(Role::Viewer, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/SetSignal",
        rule(Role::Operator, Scope::Execution),
    ),
    (
        "/gantry.v1.AdminService/ListSchedules",
        rule(Role::Viewer, Scope::Listing),
    ),
    (
        "/gantry.v1.AdminService/ActivateSchedule",
        rule(Role::Operator, Scope::Named),
    ),
    (
        "/gantry.v1.AdminService/DeactivateSchedule",
        rule(Role::Operator, Scope::Named),
    ),
    // Workers read the large inputs of their attempts too; a `gantry:` reference names its execution, a blob's key
    // is its content's hash (only someone shown the reference knows it).
    ("/gantry.v1.AdminService/ReadOffloaded", read_or_work(Scope::Execution)),
    ("/gantry.v1.WorkerService/PollTasks", rule(Role::Worker, Scope::Worker)),
    ("/gantry.v1.WorkerService/Heartbeat", rule(Role::Worker, Scope::Worker)),
    (
        "/gantry.v1.WorkerService/CompleteAttempts",
        rule(Role::Worker, Scope::Worker),
    ),
    (
        "/gantry.v1.AuditService/ListAuditEntries",
        rule(Role::Admin, Scope::Global),
    ),
    ("/gantry.v1.AuthService/CreateApiKey", rule(Role::Admin, Scope::Global)),
    ("/gantry.v1.AuthService/ListApiKeys", rule(Role::Admin, Scope::Global)),
    ("/gantry.v1.AuthService/RevokeApiKey", rule(Role::Admin, Scope::Global)),
    (
        "/gantry.v1.ProjectService/CreateProject",
        rule(Role::Admin, Scope::Global),
    ),
    ("/gantry.v1.ProjectService/ListProjects", read_or_work(Scope::Listing)),
    ("/gantry.v1.ProjectService/GetProject", read_or_work(Scope::Named)),
    (
        "/gantry.v1.ProjectService/ArchiveProject",
        rule(Role::Admin, Scope::Global),
    ),
];

/// An RPC without a rule: admins only.
const UNLISTED: Rule = rule(Role::Admin, Scope::Global);

/// The rule of the RPC at `path`.
pub fn rule_of(path: &str) -> Rule {
    RULES
        .iter()
        .find(|(method, _)| *method == path)
        .map_or(UNLISTED, |(_, rule)| *rule)
}

/// Whether holding `held` allows what needs `needed`. Viewers and workers are apart: a viewer reads, a worker runs
/// attempts. An operator may do both (and could run workers anyway); an admin everything.
pub fn allows(held: Role, needed: Role) -> bool {
    match held {
        Role::Admin => true,
        Role::Operator => needed != Role::Admin,
        Role::Viewer => needed == Role::Viewer,
        Role::Worker => needed == Role::Worker,
    }
}

impl Caller {
    /// Whether the caller holds `role` (or one that allows it) in `project`.
    pub fn may(&self, role: Role, project: &str) -> bool {
        self.may_by(rule(role, Scope::Named), project)
    }

    /// Whether a grant of the caller in `project` allows `rule`.
    pub fn may_by(&self, rule: Rule, project: &str) -> bool {
        self.grants.iter().any(|grant| {
            grant.project.as_deref().is_none_or(|granted| granted == project) && rule.allowed_by(grant.role)
        })
    }

    /// Whether some grant of the caller allows `rule` somewhere: what the layer checks before any handler runs.
    pub fn may_somewhere(&self, rule: Rule) -> bool {
        self.grants
            .iter()
            .any(|grant| rule.allowed_by(grant.role) && (rule.scope != Scope::Global || grant.project.is_none()))
    }

    /// The one project a worker caller's claims are restricted to; `None`: every project (admins, the developer).
    pub fn worker_project(&self) -> Option<String> {
        if self.grants.iter().any(|grant| grant.project.is_none()) {
            return None;
        }
        self.grants
            .iter()
            .find(|grant| allows(grant.role, Role::Worker))
            .and_then(|grant| grant.project.clone())
    }

    /// Whether requests run without authentication (the developer).
    pub fn is_developer(&self) -> bool {
        *self == Caller::developer()
    }
}

/// The caller of a request and the rule of its RPC, as the authentication layer put them into its extensions.
#[derive(Debug, Clone)]
pub struct Access {
    pub caller: Caller,
    pub rule: Rule,
}

impl Access {
    /// The request's access; the developer's (everything allowed) when no layer set one (in-process use).
    pub fn of<T>(request: &Request<T>) -> Access {
        request.extensions().get::<Access>().cloned().unwrap_or_else(|| Access {
            caller: Caller::developer(),
            rule: UNLISTED,
        })
    }

    /// A request naming `project`: PERMISSION_DENIED unless the caller holds the rule's role there.
    pub fn in_project(&self, project: &str) -> Result<(), Status> {
        if self.caller.may_by(self.rule, project) {
            return Ok(());
        }
        Err(Status::permission_denied(format!(
            "{} may not do this in project {project}",
            self.caller.principal
        )))
    }

    /// A read naming a resource of `project`: `not_found` (the answer for one that does not exist) unless the caller
    /// holds the rule's role there.
    pub fn sees(&self, project: &str, not_found: impl FnOnce() -> Status) -> Result<(), Status> {
        if self.caller.may_by(self.rule, project) {
            return Ok(());
        }
        Err(not_found())
    }

    /// A request naming an execution of `project`: NOT_FOUND (`not_found`, the answer for an execution that does not
    /// exist) when the caller may not even read it, PERMISSION_DENIED when it may read but not do this.
    pub fn on_execution(&self, project: &str, not_found: impl FnOnce() -> Status) -> Result<(), Status> {
        if self.caller.may_by(self.rule, project) {
            return Ok(());
        }
        if self.caller.may(Role::Viewer, project) || self.caller.may(Role::Worker, project) {
            return Err(Status::permission_denied(format!(
                "{} may not do this in project {project}",
                self.caller.principal
            )));
        }
        Err(not_found())
    }

    /// A template of `project` that a request refers to (a target, a workflow's reference): `not_found` (the answer
    /// for one that is not registered) unless the caller may read `project`.
    pub fn reads(&self, project: &str, not_found: impl FnOnce() -> Status) -> Result<(), Status> {
        if self.caller.may(Role::Viewer, project) {
            return Ok(());
        }
        Err(not_found())
    }

    /// Whether a listing of `project` shows anything.
    pub fn lists(&self, project: &str) -> bool {
        self.caller.may_by(self.rule, project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::Grant;

    fn caller(project: Option<&str>, role: Role) -> Caller {
        Caller {
            principal: "k".to_owned(),
            grants: vec![Grant {
                project: project.map(str::to_owned),
                role,
            }],
        }
    }

    #[test]
    fn roles_allow_what_the_table_says() {
        let operator = caller(Some("a"), Role::Operator);
        assert!(operator.may(Role::Viewer, "a") && operator.may(Role::Worker, "a"));
        assert!(!operator.may(Role::Viewer, "b"));
        assert!(!operator.may_somewhere(rule_of("/gantry.v1.AuthService/CreateApiKey")));
        let worker = caller(Some("a"), Role::Worker);
        assert!(!worker.may(Role::Viewer, "a"));
        assert_eq!(worker.worker_project().as_deref(), Some("a"));
        let viewer = caller(Some("a"), Role::Viewer);
        assert!(!viewer.may_somewhere(rule_of("/gantry.v1.WorkerService/PollTasks")));
        assert!(!viewer.may(Role::Operator, "a"));
        let admin = caller(None, Role::Admin);
        assert!(admin.may_somewhere(rule_of("/gantry.v1.AuthService/CreateApiKey")));
        assert_eq!(admin.worker_project(), None);
        assert_eq!(rule_of("/gantry.v1.AdminService/NoSuchRpc"), UNLISTED);
    }
}
