"""Do the face's exports open in Blender? Two halves, run by two Pythons:

    # 1. the project's venv: export a smiling, surprised face (the default full head in its
    #    skin) as GLB and OBJ, with what Blender should find in them (expected.npz)
    python -m lab.blender_import export /tmp/blender/export
    # 2. Blender as a Python module (bpy; a throwaway venv, never a project dependency):
    #    python3.11 -m venv /tmp/bpyenv && /tmp/bpyenv/bin/pip install bpy==4.2.0
    /tmp/bpyenv/bin/python lab/blender_import.py check /tmp/blender/export [--render out.png]

``check`` imports the GLB with Blender's glTF importer and the OBJ with its OBJ importer and
prints a JSON report: counts against the export, the 52 ARKit shape keys by name and their
weights, jawOpen=1 moving each vertex by the exported delta (and the lower lip and chin down),
the skin image on the material and the UVs. ``--render out.png`` draws the imported GLB (and the
OBJ, out_obj.png) with Cycles on the CPU: Blender's own renderer, not ours. Exit status 1 when a check fails.
The second half imports nothing from the project (bpy's venv does not have it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

EXPRESSION = {"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8, "cheekSquintLeft": 0.3,
              "cheekSquintRight": 0.3, "browInnerUp": 0.6, "browOuterUpLeft": 0.5,
              "browOuterUpRight": 0.5, "eyeWideLeft": 0.4, "eyeWideRight": 0.4, "jawOpen": 0.25}
DELTA_TOLERANCE_M = 0.0003  # the GLB leaves out deltas up to 0.01 cm a vertex and rounds them


def export(folder: Path) -> None:
    """Writes face.glb, face.obj (+ .mtl, skin JPEG) and expected.npz into ``folder``."""
    from emo_app.blendshapes import ARKIT_NAMES, Blendshapes
    from emo_app.face.export import export_glb, glb_meshes
    from emo_app.face.export_obj import export_obj
    from emo_app.face.looks import default_face
    from emo_app.face.render import posed_parts

    folder.mkdir(parents=True, exist_ok=True)
    shapes = Blendshapes.from_dict(EXPRESSION)
    rig, texture = default_face()
    export_glb(shapes, folder / "face.glb")
    export_obj(shapes, folder / "face.obj")
    parts = posed_parts(rig, rig.neutral.astype(np.float32))
    meshes = glb_meshes(rig)  # the GLB's meshes, in its node order; the arrays below follow it
    order = np.concatenate([part.start + rows for mesh in meshes for part, rows in mesh.pieces])
    neutral = np.concatenate([positions for _, positions, _ in parts])
    np.savez_compressed(
        folder / "expected.npz",
        names=np.array(ARKIT_NAMES), weights=rig.effective_weights(shapes.values),
        part_names=np.array([part.name for part, _, _ in parts]),
        part_vertices=np.array([part.size for part, _, _ in parts]),
        part_triangles=np.array([len(part.faces) for part, _, _ in parts]),
        mesh_names=np.array([mesh.name for mesh in meshes]),
        neutral_cm=neutral[order], jaw_delta_cm=rig.deltas[ARKIT_NAMES.index("jawOpen")][order],
        posed_cm=rig.deform(shapes)[order], atlas_shape=np.array(texture.image.shape),
    )
    print(f"wrote {folder}/face.glb, face.obj, expected.npz")


def _to_blender(points_cm: np.ndarray) -> np.ndarray:
    """glTF/rig space (+y up, cm) -> Blender's (+z up, metres), as Blender's importers convert."""
    x, y, z = np.asarray(points_cm, np.float64).T / 100.0
    return np.column_stack([x, -z, y])


def _positions(obj) -> np.ndarray:
    """World-space vertex positions of ``obj`` with its shape keys applied."""
    import bpy

    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    flat = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", flat)
    evaluated.to_mesh_clear()
    points = flat.reshape(-1, 3)
    matrix = np.array(obj.matrix_world)
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def _base_colour_image(material):
    """The image feeding the material's Principled BSDF base colour, or None."""
    if material is None or not material.use_nodes:
        return None
    for node in material.node_tree.nodes:
        if node.type == "BSDF_PRINCIPLED":
            for link in node.inputs["Base Color"].links:
                source = link.from_node
                while source.type != "TEX_IMAGE" and source.inputs and source.inputs[0].links:
                    source = source.inputs[0].links[0].from_node  # through a mix / colour node
                if source.type == "TEX_IMAGE":
                    return source.image
    return None


def _roughness_of(material) -> float:
    """The Principled BSDF's roughness (0: a mirror)."""
    node = next((n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    return float(node.inputs["Roughness"].default_value) if node else float("nan")


def _image_report(image) -> dict | None:
    if image is None:
        return None
    pixels = np.empty(image.size[0] * image.size[1] * image.channels, np.float32)
    image.pixels.foreach_get(pixels)
    return {"name": image.name, "size": list(image.size), "mean_rgb":
            np.round(pixels.reshape(-1, image.channels)[:, :3].mean(axis=0), 3).tolist()}


def _check_glb(path: Path, expected: dict, report: dict) -> object:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.import_scene.gltf(filepath=str(path))
    by_name = {obj.name: obj for obj in bpy.context.scene.objects if obj.type == "MESH"}
    glb: dict = {"import": sorted(result), "mesh_objects": sorted(by_name)}
    report["glb"] = glb
    wanted = [str(name) for name in expected["mesh_names"]]
    if sorted(by_name) != sorted(wanted):
        glb["ok"] = False
        return None
    objects = [by_name[name] for name in wanted]  # one object per mesh: head, eyes, teeth, tongue
    glb["vertices"] = sum(len(obj.data.vertices) for obj in objects)
    glb["triangles"] = sum(len(p.vertices) - 2 for obj in objects for p in obj.data.polygons)
    glb["expected_vertices"] = int(expected["part_vertices"].sum())
    glb["expected_triangles"] = int(expected["part_triangles"].sum())
    key_sets = [obj.data.shape_keys.key_blocks if obj.data.shape_keys else [] for obj in objects]
    glb["shape_keys"] = min(len(keys) - 1 for keys in key_sets)  # the first is the basis
    glb["shape_key_names_match"] = all([key.name for key in keys][1:] == [str(n) for n in expected["names"]]
                                       for keys in key_sets)
    values = np.array([[key.value for key in keys][1:] for keys in key_sets if len(keys) == 53])
    if len(values) == len(objects):
        glb["shape_key_values_max_error"] = float(np.abs(values - expected["weights"]).max())
    mesh = objects[0].data  # the head: the skin's UVs
    glb["materials"] = {each.name: [slot.material.name if slot.material else None
                                    for slot in each.material_slots] for each in objects}
    skin = bpy.data.materials.get("skin")
    glb["skin_base_colour_image"] = _image_report(_base_colour_image(skin))
    glb["uv_layers"] = [layer.name for layer in mesh.uv_layers]
    glb["roughness"] = {m.name: round(_roughness_of(m), 3) for m in bpy.data.materials if m.use_nodes}

    # the pose as exported (the GLB's weights), then every key at 0, then jawOpen alone at 1
    def positions() -> np.ndarray:
        return np.concatenate([_positions(each) for each in objects])

    def set_all(name: str | None, value: float) -> None:
        for keys in key_sets:
            for key in keys[1:]:
                if name is None or key.name == name:
                    key.value = value

    posed = positions()
    set_all(None, 0.0)
    neutral = positions()
    set_all("jawOpen", 1.0)
    opened = positions()
    set_all("jawOpen", 0.0)
    same_order = neutral.shape == expected["neutral_cm"].shape
    if same_order:
        glb["neutral_max_error_m"] = float(np.abs(neutral - _to_blender(expected["neutral_cm"])).max())
        glb["posed_max_error_m"] = float(np.abs(posed - _to_blender(expected["posed_cm"])).max())
        moved = opened - neutral
        want = _to_blender(expected["jaw_delta_cm"]) - _to_blender(np.zeros((1, 3)))
        glb["jawOpen_delta_max_error_m"] = float(np.abs(moved - want).max())
        glb["jawOpen_largest_move_m"] = float(np.linalg.norm(moved, axis=1).max())
        # Blender's z is up: the vertex jawOpen moves furthest (on the chin) goes down
        furthest = int(np.argmax(np.linalg.norm(moved, axis=1)))
        glb["jawOpen_furthest_vertex_drop_m"] = float(-moved[furthest, 2])
    glb["ok"] = bool(
        "FINISHED" in result and glb["vertices"] == glb["expected_vertices"]
        and glb["triangles"] == glb["expected_triangles"] and glb["shape_keys"] == 52
        and glb["shape_key_names_match"] and glb.get("shape_key_values_max_error", 1.0) < 1e-5
        and glb["skin_base_colour_image"] is not None
        and glb["skin_base_colour_image"]["size"] == [int(n) for n in expected["atlas_shape"][1::-1]]
        and same_order and glb["neutral_max_error_m"] < DELTA_TOLERANCE_M
        and glb["posed_max_error_m"] < 0.01 and glb["jawOpen_delta_max_error_m"] < DELTA_TOLERANCE_M
        and glb["jawOpen_furthest_vertex_drop_m"] > 0.5 * glb["jawOpen_largest_move_m"] > 0.005
    )
    for keys in key_sets:
        for key, value in zip(keys[1:], expected["weights"]):
            key.value = float(value)
    return objects


def _check_obj(path: Path, expected: dict, report: dict) -> list:
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.wm.obj_import(filepath=str(path))
    meshes = [obj for obj in bpy.context.scene.objects if obj.type == "MESH"]
    vertices = sum(len(obj.data.vertices) for obj in meshes)
    triangles = sum(len(p.vertices) - 2 for obj in meshes for p in obj.data.polygons)
    skin = bpy.data.materials.get("skin")
    textured = [obj.name for obj in meshes if obj.data.uv_layers and any(
        slot.material is skin for slot in obj.material_slots)]
    obj_report = {
        "import": sorted(result), "objects": [obj.name for obj in meshes],
        "vertices": vertices, "triangles": triangles,
        "expected_triangles": int(expected["part_triangles"].sum()),
        "objects_with_uvs_and_skin": textured,
        "colour_attributes": sorted({attr.name for obj in meshes for attr in obj.data.color_attributes}),
        "skin_base_colour_image": _image_report(_base_colour_image(skin)),
        "smooth_shaded_polygons": sum(p.use_smooth for obj in meshes for p in obj.data.polygons),
        "custom_normals": all(obj.data.has_custom_normals for obj in meshes),
        "roughness": {m.name: round(_roughness_of(m), 3) for m in bpy.data.materials if m.use_nodes},
    }
    # the OBJ is the posed head in centimetres, which Blender reads as metres (1 unit = 1 cm;
    # its importer's global_scale=0.01 gives life size): the rig's deform of the expression
    points = np.concatenate([_positions(obj) for obj in meshes]) / 100.0 if meshes else np.zeros((0, 3))
    want = _to_blender(expected["posed_cm"])
    lo, hi = want.min(axis=0), want.max(axis=0)
    obj_report["height_blender_units"] = float(np.ptp(points[:, 2]) * 100.0) if len(points) else 0.0
    obj_report["bounds_max_error_cm"] = float(max(np.abs(points.min(axis=0) - lo).max(),
                                                  np.abs(points.max(axis=0) - hi).max())) * 100.0
    obj_report["ok"] = bool(
        "FINISHED" in result and triangles == obj_report["expected_triangles"]
        and vertices >= int(expected["part_vertices"].sum()) and textured
        and obj_report["skin_base_colour_image"] is not None and obj_report["bounds_max_error_cm"] < 1e-3
        and obj_report["custom_normals"] and obj_report["roughness"].get("skin", 0.0) > 0.5
    )
    report["obj"] = obj_report
    return meshes


def _render(objects: list, target: Path) -> None:
    """A 512 px front view of the imported ``objects`` with Cycles on the CPU (a key and a fill
    light)."""
    import bpy
    from mathutils import Vector

    scene = bpy.context.scene
    points = np.concatenate([_positions(obj) for obj in objects])
    centre = Vector(((points.min(axis=0) + points.max(axis=0)) / 2).tolist())
    height = float(np.ptp(points[:, 2]))
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.lens = 85
    camera.location = centre + Vector((0.0, -3.2 * height, 0.0))
    camera.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    scale = height / 0.28  # the lights were set for the life-size GLB; the OBJ is in cm
    for name, energy, offset in (("key", 60.0, (0.6, -1.5, 0.6)), ("fill", 25.0, (-0.8, -1.2, 0.1))):
        light = bpy.data.objects.new(name, bpy.data.lights.new(name, "AREA"))
        light.data.energy, light.data.size = energy * scale**2, 0.5 * scale
        light.location = centre + Vector(offset) * scale
        direction = centre - light.location
        light.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
        scene.collection.objects.link(light)
    world = bpy.data.worlds.new("world")
    world.color = (0.05, 0.05, 0.06)
    scene.world = world
    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples = "CPU", 16
    scene.render.resolution_x = scene.render.resolution_y = 512
    scene.render.filepath = str(target)
    bpy.ops.render.render(write_still=True)


def check(folder: Path, render_to: Path | None = None) -> dict:
    """The JSON-able report of importing ``folder``'s face.glb and face.obj into Blender."""
    import bpy

    with np.load(folder / "expected.npz") as data:
        expected = {name: data[name] for name in data.files}
    report: dict = {"blender": bpy.app.version_string}
    glb_objects = _check_glb(folder / "face.glb", expected, report)
    if render_to is not None and glb_objects:
        _render(glb_objects, render_to)
        report["render_glb"] = str(render_to)
    objects = _check_obj(folder / "face.obj", expected, report)
    if render_to is not None and objects:
        obj_render = render_to.with_name(render_to.stem + "_obj" + render_to.suffix)
        _render(objects, obj_render)
        report["render_obj"] = str(obj_render)
    return report


def main(argv: list[str]) -> int:
    """``export FOLDER`` or ``check FOLDER [--render PNG]``; the exit status."""
    if len(argv) >= 2 and argv[0] == "export":
        export(Path(argv[1]))
        return 0
    if len(argv) >= 2 and argv[0] == "check":
        render_to = Path(argv[argv.index("--render") + 1]) if "--render" in argv else None
        sys.stdout.flush()
        stdout = os.dup(1)
        os.dup2(2, 1)  # Blender's own chatter goes to stderr; stdout carries only the report
        try:
            report = check(Path(argv[1]), render_to)
        finally:
            sys.stdout.flush()
            os.dup2(stdout, 1)
        print(json.dumps(report, indent=1))
        return 0 if report["glb"].get("ok") and report.get("obj", {}).get("ok") else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # bpy 4.2 as a module can crash while tearing down after a render (SIGSEGV at exit): the
    # report is out, so leave without the interpreter's teardown
    os._exit(status)
