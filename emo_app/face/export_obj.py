"""The posed head as a Wavefront OBJ with its MTL and textures (Blender, MeshLab, trimesh): the
format with no morph targets, for tools that take a static mesh."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.errors import InvalidInputError
from emo_app.face.export import SKIN_PARTS, face_to_export, material_roughness, save_png, target_path
from emo_app.face.export_textures import bake_vertex_colours, jpeg_bytes
from emo_app.face.head_pose import pose_vertices

if TYPE_CHECKING:  # pragma: no cover
    from emo_app.face.texture import FaceTexture


def _specular_exponent(roughness: float) -> float:
    """An MTL ``Ns`` for a roughness, as Blender's OBJ importer reads it back (roughness =
    1 - sqrt(Ns / 1000)); without one Blender makes every material a mirror."""
    return 1000.0 * (1.0 - roughness) ** 2


def export_obj(shapes: Blendshapes, path: str | Path, texture: FaceTexture | None = None,
               rig: Any = None, pose: HeadPose | None = None) -> Path:
    """Write the posed head (its head turned by ``pose``) as a Wavefront OBJ (centimetres, +y
    up, one group per part) with an MTL beside it; a skin texture goes beside them as JPEG,
    mapped with the head's UVs. Each vertex carries the renderer's smooth normal (without
    normals Blender shades the triangles flat, and split UV-seam copies would show the seam).
    ``rig`` and ``texture`` default as in ``export_glb``."""
    from emo_app.face.render import posed_normals
    from emo_app.face.texture import texture_uvs

    if not isinstance(shapes, Blendshapes):
        raise InvalidInputError(f"Expected Blendshapes to export; got {type(shapes).__name__}.")
    target = target_path(path, ".obj")
    rig, texture = face_to_export(rig, texture)
    vertices = pose_vertices(rig, rig.deform(shapes), pose)
    image_name = f"{target.stem}_skin.jpg"
    lines = ["# Emotion Studio face, centimetres, +y up", f"mtllib {target.stem}.mtl"]
    materials = []
    for part in rig.parts:  # vertex colours after the position: Blender, MeshLab and trimesh read them
        block = np.column_stack([vertices[part.start : part.stop], part.colors[:, :3]])
        lines += [f"v {x:.5f} {y:.5f} {z:.5f} {r:.4f} {g:.4f} {b:.4f}" for x, y, z, r, g, b in block]
    lines += [f"vn {x:.3f} {y:.3f} {z:.3f}" for x, y, z in posed_normals(rig, vertices)]  # vertex i's: vn i
    faces, uv_count, baked = [], 0, {}
    for part in rig.parts:
        uvs = texture_uvs(texture, rig, part)
        corners = part.faces + part.start + 1
        faces += [f"g {part.name}", f"usemtl {'skin' if uvs is not None else part.name}"]
        if uvs is None:  # eyes and mouth: their vertex colours baked, since an MTL cannot use them
            image, corner_uvs = bake_vertex_colours(part.faces, part.colors[:, :3])
            baked[f"{target.stem}_{part.name}.png"] = image
            materials.append((part.name, np.ones(3), f"{target.stem}_{part.name}.png"))
            uvs, tex = corner_uvs.reshape(-1, 2), np.arange(3 * len(part.faces)).reshape(-1, 3) + uv_count + 1
        else:
            tex = part.faces + uv_count + 1
        lines += [f"vt {u:.6f} {1.0 - v:.6f}" for u, v in uvs]  # OBJ's v points up
        faces += [f"f {a}/{ta}/{a} {b}/{tb}/{b} {c}/{tc}/{c}"
                  for (a, b, c), (ta, tb, tc) in zip(corners, tex)]
        uv_count += len(uvs)
        if part.name in SKIN_PARTS and not any(name == "skin" for name, _, _ in materials):
            materials.append(("skin", np.ones(3), image_name))
    target.write_text("\n".join(lines + faces) + "\n")
    mtl = []
    for name, rgb, image in materials:
        mtl += [f"newmtl {name}", "Kd {:.4f} {:.4f} {:.4f}".format(*rgb), "Ks 0.05 0.05 0.05",
                f"Ns {_specular_exponent(material_roughness(name)):.1f}", "illum 2"]
        if image is not None:
            mtl.append(f"map_Kd {image}")
            if image in baked:
                save_png(baked[image], target.parent / image)
            else:
                (target.parent / image).write_bytes(jpeg_bytes(texture.image))
        mtl.append("")
    (target.parent / f"{target.stem}.mtl").write_text("\n".join(mtl))
    return target
