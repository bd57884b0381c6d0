"""The rigged GLB's two joints, so the head turns in an engine as it does in the render.

A ``neck`` joint at the collar and a ``skull`` joint at the head's pivot (``face.head_pose``);
each vertex is skinned to them by the neck's blend, so rotating ``skull`` bends the neck and
keeps the shoulders, the way the renderer poses the head (linear blend skinning: within the
neck it differs from the render's per-vertex turn by at most 3 mm at 30 degrees of nod or
tilt and 6 mm at the 45-degree turn, measured on the full head).
The file stores the face's ``HeadPose`` as the skull's rotation; the morph targets stay the
expression, so an animator keys the joint and the 52 weights apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from emo_app.blendshapes.pose import HeadPose
from emo_app.face.head_pose import neck_frame

NECK_JOINT, SKULL_JOINT = "neck", "skull"
_UBYTE = 5121  # glTF's unsigned byte component type


def skin_attributes(rig: Any, vertex_rows: np.ndarray,
                    attribute: Callable[..., int]) -> dict[str, int]:
    """JOINTS_0 and WEIGHTS_0 of one primitive (``vertex_rows``: its rig vertices), written with
    the packer's ``attribute(array, type, component, normalized)``: the weights as bytes that
    sum to 255 (4 bytes a vertex where floats took 16: the full head's GLB grows by 200 kB)."""
    skull = np.round(neck_frame(rig).blend[vertex_rows] * 255).astype(np.uint8)
    joints = np.tile(np.array([0, 1, 0, 0], np.uint8), (len(vertex_rows), 1))
    weights = np.zeros((len(vertex_rows), 4), np.uint8)
    weights[:, 0], weights[:, 1] = 255 - skull, skull
    return {"JOINTS_0": attribute(joints, "VEC4", _UBYTE),
            "WEIGHTS_0": attribute(weights, "VEC4", _UBYTE, True)}


def add_joints(document: dict, rig: Any, metres_per_unit: float,
               add_matrices: Callable[[bytes], int]) -> None:
    """Append the neck and skull nodes under the root (node 0), the skin, and ``"skin": 0`` on
    every mesh node; ``add_matrices(bytes)`` stores the inverse bind matrices and returns their
    accessor."""
    frame = neck_frame(rig)
    neutral = np.asarray(rig.neutral, np.float64)
    neck = np.array([0.0, neutral[:, 1].min(), frame.pivot[2]]) * metres_per_unit
    skull = frame.pivot * metres_per_unit
    nodes = document["nodes"]
    for node in nodes:
        if "mesh" in node:
            node["skin"] = 0
    neck_index = len(nodes)
    nodes.append({"name": NECK_JOINT, "translation": neck.tolist(), "children": [neck_index + 1]})
    nodes.append({"name": SKULL_JOINT, "translation": (skull - neck).tolist()})
    nodes[0]["children"] = [*nodes[0]["children"], neck_index]
    inverse_binds = np.stack([_translation(-neck), _translation(-skull)]).astype(np.float32)
    # glTF matrices are column-major: transpose each before writing its 16 floats
    matrices = add_matrices(np.ascontiguousarray(inverse_binds.transpose(0, 2, 1)).tobytes())
    document["skins"] = [{"name": "neck", "joints": [neck_index, neck_index + 1],
                          "inverseBindMatrices": matrices, "skeleton": neck_index}]


def posed_nodes(nodes: list[dict], pose: HeadPose | None) -> list[dict]:
    """``nodes`` with the skull joint turned by ``pose`` (the same list at rest)."""
    if pose is None or pose.is_rest or not any(node.get("name") == SKULL_JOINT for node in nodes):
        return nodes
    quaternion = skull_quaternions([pose])[0].tolist()
    return [dict(node, rotation=quaternion) if node.get("name") == SKULL_JOINT else node for node in nodes]


def skull_quaternions(poses: Sequence[HeadPose]) -> np.ndarray:
    """(len(poses), 4) the skull joint's rotation for each pose, as glTF stores it (x, y, z, w)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.stack([pose.rotation_vector() for pose in poses])).as_quat()


def _translation(offset: np.ndarray) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, 3] = offset
    return matrix
