//! `gantry nodes EXEC_ID [--depth N | --failed]`: the node tree, children of dynamic (and other composite) nodes
//! included; or every node that failed, at any depth, without walking the tree.

use std::process::ExitCode;

use gantry_proto::v1 as pb;
use serde_json::{Value, json};

use crate::client::{Admin, Connection, RpcResultExt, connect};
use crate::render::{
    OutputFormat, cache_status, error_json, error_text, identifier, node_kind, node_phase, print_json, table,
};

/// `gantry nodes`.
#[derive(Debug, clap::Args)]
pub struct NodesArgs {
    /// The execution's id.
    execution_id: String,
    /// How many levels to show: 1 is the top-level nodes only. All levels when absent.
    #[arg(long, conflicts_with = "failed")]
    depth: Option<u32>,
    /// Only the nodes that failed or timed out, at every depth, as one flat list in node id order (the server lists
    /// them by phase, so this stays quick under a 100,000-child fan-out).
    #[arg(long)]
    failed: bool,
}

/// A node and, if it was expanded, its children.
#[derive(Debug)]
struct TreeNode {
    node: pb::NodeExecution,
    children: Vec<TreeNode>,
}

/// Every direct child of `parent` (empty: the top level), all pages.
async fn children(client: &mut Admin, execution_id: &str, parent: &str) -> anyhow::Result<Vec<pb::NodeExecution>> {
    let mut nodes = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListNodeExecutionsRequest {
            execution_id: execution_id.to_owned(),
            parent_node_id: parent.to_owned(),
            phases: Vec::new(),
            page_size: 1000,
            page_token,
            all_depths: false,
        };
        let what = if parent.is_empty() {
            "listing the nodes".to_owned()
        } else {
            format!("listing the children of {parent}")
        };
        let page = client.list_node_executions(request).await.rpc(what)?;
        nodes.extend(page.node_executions);
        page_token = page.next_page_token;
        if page_token.is_empty() {
            return Ok(nodes);
        }
    }
}

/// Every node of the execution that failed or timed out, at every depth, by node id, all pages.
async fn failed_nodes(client: &mut Admin, execution_id: &str) -> anyhow::Result<Vec<TreeNode>> {
    let mut nodes = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListNodeExecutionsRequest {
            execution_id: execution_id.to_owned(),
            parent_node_id: String::new(),
            phases: vec![pb::NodePhase::Failed as i32, pb::NodePhase::TimedOut as i32],
            page_size: 1000,
            page_token,
            all_depths: true,
        };
        let page = client
            .list_node_executions(request)
            .await
            .rpc("listing the failed nodes")?;
        nodes.extend(page.node_executions.into_iter().map(|node| TreeNode {
            node,
            children: Vec::new(),
        }));
        page_token = page.next_page_token;
        if page_token.is_empty() {
            return Ok(nodes);
        }
    }
}

/// The tree below `parent`, `levels` deep (`None`: all).
async fn tree(
    client: &mut Admin,
    execution_id: &str,
    parent: String,
    levels: Option<u32>,
) -> anyhow::Result<Vec<TreeNode>> {
    // Breadth first with an explicit stack: no recursion in async code, and nesting of any depth.
    let mut roots: Vec<TreeNode> = children(client, execution_id, &parent)
        .await?
        .into_iter()
        .map(|node| TreeNode {
            node,
            children: Vec::new(),
        })
        .collect();
    if levels == Some(1) {
        return Ok(roots);
    }
    let mut pending: Vec<(Vec<usize>, u32)> = (0..roots.len()).map(|i| (vec![i], 2)).collect();
    while let Some((path, level)) = pending.pop() {
        let node = locate(&mut roots, &path);
        if !node.node.is_parent {
            continue;
        }
        let node_id = node.node.node_id.clone();
        let kids = children(client, execution_id, &node_id).await?;
        let node = locate(&mut roots, &path);
        node.children = kids
            .into_iter()
            .map(|node| TreeNode {
                node,
                children: Vec::new(),
            })
            .collect();
        if levels.is_none_or(|levels| level < levels) {
            for i in 0..node.children.len() {
                let mut child = path.clone();
                child.push(i);
                pending.push((child, level + 1));
            }
        }
    }
    Ok(roots)
}

fn locate<'a>(roots: &'a mut [TreeNode], path: &[usize]) -> &'a mut TreeNode {
    let (first, rest) = path.split_first().expect("paths are never empty");
    let mut node = &mut roots[*first];
    for i in rest {
        node = &mut node.children[*i];
    }
    node
}

fn node_json(tree: &TreeNode) -> Value {
    let node = &tree.node;
    let mut value = json!({
        "node_id": node.node_id,
        "parent_node_id": node.parent_node_id,
        "kind": node_kind(node.kind),
        "target": identifier(node.target.as_ref()),
        "phase": node_phase(node.phase),
        "attempts": node.attempts,
        "user_failures": node.user_failures,
        "system_failures": node.system_failures,
        "cache_status": cache_status(node.cache_status),
        "is_dynamic_parent": node.is_dynamic_parent,
        "child_execution_id": node.child_execution_id,
        "children": tree.children.iter().map(node_json).collect::<Vec<_>>(),
    });
    if let Some(error) = &node.error {
        value["error"] = error_json(error);
    }
    value
}

/// `3`, or `3 (2 user, 1 system failures)` once attempts failed.
fn attempts_text(node: &pb::NodeExecution) -> String {
    if node.user_failures + node.system_failures == 0 {
        return node.attempts.to_string();
    }
    format!(
        "{} ({} user, {} system failures)",
        node.attempts, node.user_failures, node.system_failures
    )
}

fn add_rows(rows: &mut comfy_table::Table, nodes: &[TreeNode], depth: usize) {
    for tree in nodes {
        let node = &tree.node;
        let marker = if node.is_dynamic_parent { " (dynamic)" } else { "" };
        rows.add_row(vec![
            format!("{}{}{marker}", "  ".repeat(depth), node.node_id),
            node_kind(node.kind),
            identifier(node.target.as_ref()),
            node_phase(node.phase),
            attempts_text(node),
            cache_status(node.cache_status),
            node.error.as_ref().map(error_text).unwrap_or_default(),
        ]);
        add_rows(rows, &tree.children, depth + 1);
    }
}

/// Prints the node tree.
pub async fn nodes(server: &Connection, output: OutputFormat, args: NodesArgs) -> anyhow::Result<ExitCode> {
    if args.depth == Some(0) {
        anyhow::bail!("--depth must be at least 1");
    }
    let mut client = connect(server).await?;
    let roots = if args.failed {
        failed_nodes(&mut client, &args.execution_id).await?
    } else {
        tree(&mut client, &args.execution_id, String::new(), args.depth).await?
    };
    match output {
        OutputFormat::Json => print_json(&Value::Array(roots.iter().map(node_json).collect())),
        OutputFormat::Table => {
            let mut rows = table(["NODE", "KIND", "TARGET", "PHASE", "ATTEMPTS", "CACHE", "ERROR"]);
            add_rows(&mut rows, &roots, 0);
            outln!("{rows}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
