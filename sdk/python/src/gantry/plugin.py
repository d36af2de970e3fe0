"""The plugin payload of a task template (task.proto `TaskPlugin`): a foreign task system's description of a task (a
Flyte task's type, custom config and config map, for the flytekit bridge), stored by the server and handed
to the worker of each attempt untouched. Gantry never interprets it; the server counts it in the cache key when set.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from gantry.v1 import task_pb2


@dataclasses.dataclass(frozen=True)
class TaskPlugin:
    """`type` names the foreign task type (Flyte's `python-task`, say); `custom` is that system's own encoding of its
    configuration, kept byte for byte; `config` holds further settings as strings."""

    type: str
    custom: bytes = b""
    config: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.type:
            raise ValueError("a plugin payload needs a type")
        if not isinstance(self.custom, bytes):
            raise TypeError(f"custom must be bytes, got {type(self.custom).__name__}")
        # A copy: a caller's dictionary changed later does not change the payload.
        object.__setattr__(self, "config", dict(self.config))

    def to_proto(self) -> task_pb2.TaskPlugin:
        return task_pb2.TaskPlugin(type=self.type, custom=self.custom, config=dict(self.config))

    @classmethod
    def of_template(cls, template: task_pb2.TaskTemplate) -> TaskPlugin | None:
        """The template's payload, or None when it has none."""
        if not template.HasField("plugin"):
            return None
        plugin = template.plugin
        return cls(type=plugin.type, custom=bytes(plugin.custom), config=dict(plugin.config))
