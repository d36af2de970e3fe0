"""Dynamic tasks beyond the seed: promises feeding further nodes, several named outputs, nodes yielded together."""

from __future__ import annotations

import tasks


def test_promises_feed_later_nodes_and_mix_with_literals(client):
    # add_one(7) = 8, add_one(8) = 9, total([8, 9, 100]) = 117.
    assert client.run(tasks.chain, n=7).result(timeout=60) == 117


def test_named_outputs_and_a_list_of_nodes_yielded_at_once(client):
    outputs = client.run(tasks.split_outputs, n=4).outputs(timeout=60)
    assert outputs == {"evens": [0, 2, 4, 6], "label": "4 evens"}


def test_node_tree_lists_children_under_their_parent(client):
    execution = client.run(tasks.chain, n=1)
    execution.wait(timeout=60)
    tree = execution.node_tree()
    ((top, children),) = tree
    assert [child.target.name for child, _ in children] == ["add_one", "add_one", "total"]
