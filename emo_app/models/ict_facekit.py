"""The ICT-FaceKit ARKit head (MIT, USC ICT) packed as one npz: the fetch behind the
``ict-facekit`` model spec (``python -m emo_app weights fetch ict-facekit``).

The npz layout (``vertices``, ``faces``/``face_uvs`` quads with -1 padding, ``uvs``,
``face_material`` into ``materials``, ``expression_names`` with _L/_R, float16
``expression_deltas``) is what ``face.hd_head.load_hd_head`` reads.
"""

from __future__ import annotations

import io
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from emo_app.errors import MissingWeightsError, ModelLoadError

ICT_RAW_URL = "https://raw.githubusercontent.com/ICT-VGL/ICT-FaceKit/master/FaceXModel/"
ICT_EXPRESSIONS = (
    "browDown_L", "browDown_R", "browInnerUp_L", "browInnerUp_R", "browOuterUp_L", "browOuterUp_R",
    "cheekPuff_L", "cheekPuff_R", "cheekSquint_L", "cheekSquint_R", "eyeBlink_L", "eyeBlink_R",
    "eyeLookDown_L", "eyeLookDown_R", "eyeLookIn_L", "eyeLookIn_R", "eyeLookOut_L", "eyeLookOut_R",
    "eyeLookUp_L", "eyeLookUp_R", "eyeSquint_L", "eyeSquint_R", "eyeWide_L", "eyeWide_R",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimple_L", "mouthDimple_R",
    "mouthFrown_L", "mouthFrown_R", "mouthFunnel", "mouthLeft", "mouthLowerDown_L", "mouthLowerDown_R",
    "mouthPress_L", "mouthPress_R", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmile_L", "mouthSmile_R", "mouthStretch_L",
    "mouthStretch_R", "mouthUpperUp_L", "mouthUpperUp_R", "noseSneer_L", "noseSneer_R",
)  # fmt: skip


def _parse_obj(text: str, with_faces: bool):
    vertices, uvs, faces, face_uvs, face_material, materials = [], [], [], [], [], []
    current = -1
    for line in text.splitlines():
        if line.startswith("v "):
            vertices.append([float(v) for v in line.split()[1:4]])
        elif not with_faces:
            continue
        elif line.startswith("vt "):
            uvs.append([float(v) for v in line.split()[1:3]])
        elif line.startswith("usemtl "):
            name = line.split(maxsplit=1)[1].strip()
            if name not in materials:
                materials.append(name)
            current = materials.index(name)
        elif line.startswith("f "):
            corners = [c.split("/") for c in line.split()[1:]]
            ids = [int(c[0]) - 1 for c in corners][:4]
            tex = [int(c[1]) - 1 if len(c) > 1 and c[1] else -1 for c in corners][:4]
            faces.append(ids + [-1] * (4 - len(ids)))
            face_uvs.append(tex + [-1] * (4 - len(tex)))
            face_material.append(current)
    return (
        np.asarray(vertices, np.float32),
        np.asarray(uvs, np.float32),
        np.asarray(faces, np.int32),
        np.asarray(face_uvs, np.int32),
        np.asarray(face_material, np.int16),
        materials,
    )


def _download_text(url: str, timeout: float = 60.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        return response.read().decode("utf-8", errors="replace")


def build_ict_npz(target: Path) -> Path:
    """Download the neutral mesh and the 53 expression OBJs of ICT-FaceKit (MIT) and pack them in
    the npz layout ``load_hd_head`` reads. Written to a temporary file first, then moved."""
    target = Path(target)
    try:
        neutral_text = _download_text(ICT_RAW_URL + "generic_neutral_mesh.obj")
        vertices, uvs, faces, face_uvs, face_material, materials = _parse_obj(neutral_text, True)
        deltas = np.zeros((len(ICT_EXPRESSIONS), len(vertices), 3), np.float16)
        for k, name in enumerate(ICT_EXPRESSIONS):
            shape = _parse_obj(_download_text(ICT_RAW_URL + f"{name}.obj"), False)[0]
            if shape.shape != vertices.shape:
                raise ModelLoadError(
                    f"ICT-FaceKit {name}.obj has {len(shape)} vertices, expected {len(vertices)}."
                )
            deltas[k] = (shape - vertices).astype(np.float16)
    except OSError as exc:  # URLError, timeouts, refused connections
        raise MissingWeightsError(
            "ict-facekit",
            target.name,
            [f"{ICT_RAW_URL} ({exc})"],
            "Connect to the internet and run `python -m emo_app weights fetch ict-facekit` again.",
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        vertices=vertices,
        uvs=uvs,
        faces=faces,
        face_uvs=face_uvs,
        face_material=face_material,
        materials=np.asarray(materials),
        expression_names=np.asarray(ICT_EXPRESSIONS),
        expression_deltas=deltas,
    )
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp.write(buffer.getvalue())
    os.replace(tmp.name, target)
    return target
