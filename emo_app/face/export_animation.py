"""The GLB's animation of a sequence: every mesh's 52 morph weights and, when the head moves,
the skull joint's rotation, keyed once a frame with LINEAR interpolation (glTF 2.0, 5.1: a
rotation's LINEAR is a slerp), so glTF tools, engines and the page's viewer play the same take."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emo_app.blendshapes.pose import HeadPose
from emo_app.face.export_skin import SKULL_JOINT, skull_quaternions

_FLOAT = 5126


def add_animation(document: dict, blob_length: int, weights: np.ndarray, fps: float,
                  poses: Sequence[HeadPose] | None = None) -> bytes:
    """Append the animation "expression" to ``document`` (its bufferViews and accessors lists
    are replaced, never mutated: they may be a shared template's) and return the bytes that go
    after the first ``blob_length`` bytes of the binary chunk (4-byte aligned)."""
    document["bufferViews"] = list(document["bufferViews"])
    document["accessors"] = list(document["accessors"])
    extra = bytearray()

    def store(array: np.ndarray, kind: str, bounds: dict) -> int:
        array = np.ascontiguousarray(array, dtype=np.float32)
        document["bufferViews"].append({"buffer": 0, "byteOffset": blob_length + len(extra),
                                        "byteLength": array.nbytes})
        extra.extend(array.tobytes())
        document["accessors"].append({"bufferView": len(document["bufferViews"]) - 1, "componentType": _FLOAT,
                                      "count": len(array), "type": kind, **bounds})
        return len(document["accessors"]) - 1

    times = np.arange(len(weights), dtype=np.float32) / np.float32(fps)
    time_accessor = store(times, "SCALAR", {"min": [0.0], "max": [float(times[-1])]})
    samplers = [{"input": time_accessor, "output": store(weights.reshape(-1), "SCALAR", {}),
                 "interpolation": "LINEAR"}]
    mesh_nodes = [index for index, node in enumerate(document["nodes"]) if "mesh" in node]
    channels = [{"sampler": 0, "target": {"node": node, "path": "weights"}} for node in mesh_nodes]
    skull = [index for index, node in enumerate(document["nodes"]) if node.get("name") == SKULL_JOINT]
    if poses is not None and skull and not all(pose.is_rest for pose in poses):
        samplers.append({"input": time_accessor, "output": store(skull_quaternions(poses), "VEC4", {}),
                         "interpolation": "LINEAR"})
        channels.append({"sampler": 1, "target": {"node": skull[0], "path": "rotation"}})
    document["animations"] = [{"name": "expression", "samplers": samplers, "channels": channels}]
    return bytes(extra)
