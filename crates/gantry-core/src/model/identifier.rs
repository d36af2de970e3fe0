//! Names of registered things: tasks, workflows and launch plans live in a project and a domain and are versioned.

use std::fmt;

/// What kind of registered resource an [`Identifier`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Task,
    Workflow,
    LaunchPlan,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Task => "task",
            ResourceKind::Workflow => "workflow",
            ResourceKind::LaunchPlan => "launch plan",
        })
    }
}

/// `project/domain/name@version`. Every part is non-empty once it has passed validation at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier {
    pub project: String,
    pub domain: String,
    pub name: String,
    pub version: String,
}

impl Identifier {
    pub fn new(
        project: impl Into<String>,
        domain: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Identifier {
            project: project.into(),
            domain: domain.into(),
            name: name.into(),
            version: version.into(),
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}@{}", self.project, self.domain, self.name, self.version)
    }
}
