"""Offscreen rendering of the rigged head with pyrender (EGL; Mesa llvmpipe on a CPU machine).

A GL context belongs to the thread that made it, and creating one costs far more than drawing
a frame, so one render thread owns one long-lived context; every caller (Gradio workers, the
metric's batches, the CLI) queues requests to it. This module poses the head (deformation,
welded normals, cavity shading) and places the cameras and lights; ``gl_head`` keeps each
head's GPU buffers between frames and draws.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.config import Settings
from emo_app.errors import InvalidInputError
from emo_app.face.gl_head import GLState, Stage, cavity_shaded
from emo_app.face.hd_head import mouth_depth_shade
from emo_app.face.head_pose import pose_vertices
from emo_app.face.rig import per_rig

if TYPE_CHECKING:  # pragma: no cover
    from emo_app.face.texture import FaceTexture

log = logging.getLogger(__name__)

VIEWS: dict[str, float] = {"front": 0.0, "three_quarter": 35.0, "profile": 90.0}
CAMERA_TARGET = np.array([0.0, -0.6, -1.5])
CAMERA_DISTANCE = 76.0
CAMERA_YFOV_DEG = 21.0


def _look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """A camera/light pose whose -z axis points from ``eye`` to ``target`` (OpenGL convention)."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    right = right / np.linalg.norm(right)
    true_up = np.cross(right, forward)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, -forward, eye
    return pose


def check_view(view: str) -> None:
    """A sentence naming the views for a view no camera is set up for (before anything is drawn)."""
    if view not in VIEWS:
        raise InvalidInputError(f"Unknown view '{view}'; choose one of {', '.join(VIEWS)}.")


def view_poses(view: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Camera pose and the key, fill and rim light poses for a named view; the lights turn with
    the camera so every view is lit the same way."""
    check_view(view)
    yaw = np.radians(VIEWS[view])
    direction = np.array([np.sin(yaw), 0.0, np.cos(yaw)])
    camera = _look_at(CAMERA_TARGET + direction * CAMERA_DISTANCE, CAMERA_TARGET)
    right, up = camera[:3, 0], camera[:3, 1]
    lights = []
    for offset in (
        direction * 0.9 - right * 0.75 + up * 0.85,  # key: high to the upper left, rakes the brow
        direction * 1.0 + right * 0.9 - up * 0.05,  # fill: right, soft, keeps shadows open
        -direction * 0.8 + up * 0.9 + right * 0.4,  # rim: behind and above, separates the head
    ):
        lights.append(_look_at(CAMERA_TARGET + offset * 50.0, CAMERA_TARGET))
    return camera, lights


def project(points: np.ndarray, view: str = "front", size: int = 512) -> np.ndarray:
    """Pixel (column, row) of rig-space points in a render of ``view`` at ``size``: lets callers
    and tests find the mouth or the eyes in an image without detecting anything."""
    camera, _ = view_poses(view)
    world_to_camera = np.linalg.inv(camera)
    homogeneous = np.column_stack([points, np.ones(len(points))]) @ world_to_camera.T
    focal = 1.0 / np.tan(np.radians(CAMERA_YFOV_DEG) / 2.0)
    x_ndc = focal * homogeneous[:, 0] / -homogeneous[:, 2]
    y_ndc = focal * homogeneous[:, 1] / -homogeneous[:, 2]
    return np.column_stack([(x_ndc + 1.0) / 2.0 * size, (1.0 - y_ndc) / 2.0 * size])


LIGHT_INTENSITIES = (3.6, 0.55, 1.2)
AMBIENT = 0.1
LIGHT_WRAP = 0.25  # mesh.vert's soft terminator: light reaches this far past the shadow line
DIFFUSE_SCALE = 0.318  # mesh.vert's Lambert 1/pi, rounded as it is there
CAVITY_STRENGTH = 0.9  # how dark creases get (0: no cavity shading)
SHADER_DIR = Path(__file__).resolve().parent / "shaders"
# 4x MSAA triples the 512 px frame time on llvmpipe; FaceRenderer(msaa_samples=4) buys smoother
# silhouettes where a GPU makes it cheap.
DEFAULT_MSAA_SAMPLES = 0
ROUGHNESS = {"eyes": 0.18, "mouth": 0.45}  # every other part (skin) 0.62


@lru_cache(maxsize=1)
def _stages() -> dict[str, Stage]:
    """Every view's camera and lights, as the GPU side takes them."""
    stages = {}
    for view in VIEWS:
        camera, lights = view_poses(view)
        stages[view] = Stage(view, camera, tuple(zip(lights, LIGHT_INTENSITIES)), AMBIENT, CAMERA_YFOV_DEG)
    return stages


@dataclass
class _Request:
    shapes: list[Blendshapes]
    view: str
    size: int
    background: tuple[int, int, int] | None
    texture: Any
    rig: Any
    poses: list[HeadPose | None]


def posed_parts(rig: Any, vertices: np.ndarray, normals: np.ndarray | None = None):
    """(part, positions, normals) for each drawable part of a posed rig. Vertices split along UV
    seams (``rig.weld``) share one normal, and the canonical skull shell takes the mask's
    normals along their shared border, so no seam shows. ``normals``: ``posed_normals`` of these
    vertices when the caller already has them."""
    normals = posed_normals(rig, vertices) if normals is None else normals
    return [
        (part, np.ascontiguousarray(vertices[part.start : part.stop], dtype=np.float32),
         normals[part.start : part.stop])
        for part in rig.parts
    ]


def turned_head(rig: Any, shapes: Blendshapes, pose: HeadPose | None) -> tuple[np.ndarray, np.ndarray, Any]:
    """(vertices, normals, cavity shade) of ``shapes`` with the head turned by ``pose``. The
    creases and the mouth's shadow are the expression's own, measured before the head turns
    (the mouth's light reads how far its points came forward: a head thrown back had its
    teeth fall into shadow)."""
    vertices = rig.deform(shapes)
    normals = posed_normals(rig, vertices)
    cavity = cavity_shading(rig, vertices, normals)
    if pose is not None and not pose.is_rest:
        vertices = pose_vertices(rig, vertices, pose)
        normals = posed_normals(rig, vertices)
    return vertices, normals, cavity


def posed_normals(rig: Any, vertices: np.ndarray) -> np.ndarray:
    """(V, 3) smooth unit normals of a posed rig (see ``posed_parts``)."""
    normals = _head_normals(rig, vertices)
    seam_head, seam_face = rig.seams
    if len(seam_head):
        normals[seam_head] = normals[seam_face]
    return normals


_HEAD_FACES: dict[tuple[int, int], tuple[Any, Any, np.ndarray]] = {}


def _head_normals(rig: Any, vertices: np.ndarray) -> np.ndarray:
    """Smooth normals of every part in one pass over all triangles (parts share no vertices),
    with the split copies of a vertex (``rig.weld``) counted as one. The triangle list is
    cached per parts and weld map, which rigs made by ``replace`` share."""
    from emo_app.face.mesh import vertex_normals

    weld = getattr(rig, "weld", None)
    key = (id(rig.parts), id(weld))
    cached = _HEAD_FACES.get(key)
    if cached is None or cached[0] is not rig.parts or cached[1] is not weld:
        faces = np.concatenate([
            weld[p.faces + p.start] if weld is not None and p.uvs is not None else p.faces + p.start
            for p in rig.parts
        ]).astype(np.int64)
        if len(_HEAD_FACES) >= 8:  # holding parts and weld keeps their ids unique
            _HEAD_FACES.pop(next(iter(_HEAD_FACES)))
        cached = _HEAD_FACES[key] = (rig.parts, weld, faces)
    normals = vertex_normals(vertices, cached[2])
    return np.take(normals, weld, axis=0) if weld is not None else normals


def cavity_shading(rig: Any, vertices: np.ndarray, normals: np.ndarray) -> np.ndarray | None:
    """Per-vertex darkening (1 = none) where the skin folds inward, recomputed every frame: a
    cheap stand-in for ambient occlusion that makes furrows, nasolabial folds and lid creases
    show as they form. A vertex sitting below the mean of its neighbours, along its normal, is
    in a crease; creases an expression deepens count fully, the neutral face's own hollows
    (eye sockets, nostrils) a third. The mouth's inside, whose colours hold the neutral pose's
    shadow, is relit by how far each point has moved out of it (a tongue stuck out past the
    teeth is no longer in the mouth's shadow). None for a rig without a weld map (the mask head)."""
    if getattr(rig, "weld", None) is None or CAVITY_STRENGTH <= 0:
        return None
    mean, neutral_depth, scale, mouth = _cavity_basis(rig)
    posed = np.asarray(vertices, np.float32)
    depth = np.einsum("ij,ij->i", mean @ posed - posed, normals)
    crease = (depth - neutral_depth) + 0.35 * neutral_depth
    shade = np.take(1.0 - CAVITY_STRENGTH * np.clip(crease / (4.0 * scale), 0.0, 0.5), rig.weld)
    if mouth is not None:  # split copies above take their representative's; the mouth has none
        shade[mouth.part.start : mouth.part.stop] = mouth.relight(posed[mouth.part.start : mouth.part.stop])
    return shade.astype(np.float32)


MOUTH_RELIT_FROM, MOUTH_RELIT_FULL = 0.5, 1.5  # how far forward (cm) a point must come to be relit


@dataclass(frozen=True)
class _MouthLight:
    """The mouth's neutral pose, whose shadow its colours hold (``hd_head._shade_mouth``)."""

    part: Any
    neutral_z: np.ndarray  # (mouth vertices,)
    front: float  # the front teeth's z
    neutral_shade: np.ndarray  # (mouth vertices,) ``mouth_depth_shade`` of the neutral pose

    @classmethod
    def of(cls, rig: Any) -> _MouthLight | None:
        mouth = next((part for part in rig.parts if part.name == "mouth"), None)
        if mouth is None:
            return None
        neutral = rig.neutral[mouth.start : mouth.stop]
        front = float(neutral[:, 2].max())
        return cls(mouth, neutral[:, 2].copy(), front, mouth_depth_shade(neutral, front))

    def relight(self, inside: np.ndarray) -> np.ndarray:
        """(mouth vertices,) factor on the mouth's colours: a point that comes well forward (a
        tongue stuck out) takes the light of where it is now. The jaw's own small glide forward
        does not count, so an open mouth keeps its shadowed inside (relighting that too made FER
        read 3 of the 84 descriptions' open mouths as surprise or fear)."""
        ratio = mouth_depth_shade(inside, self.front) / self.neutral_shade
        came = inside[:, 2] - self.neutral_z
        forward = np.clip((came - MOUTH_RELIT_FROM) / (MOUTH_RELIT_FULL - MOUTH_RELIT_FROM), 0.0, 1.0)
        return 1.0 + (ratio - 1.0) * forward


def vertex_light(rig: Any, vertices: np.ndarray, normals: np.ndarray, view: str = "front",
                 cavity: np.ndarray | None = None) -> np.ndarray:
    """(V,) linear light each vertex gets in ``view``'s rig: the ambient plus the key, fill and
    rim lights' diffuse term, computed as mesh.vert does (keep the two in step), times the
    cavity shade where the renderer applies it. A web viewer's own lights show none of the
    creases and a flat, pinker face; multiplying the skin by this shows the render's shading,
    and because diffuse light does not depend on where the eye is, an orbit around the head
    stays correct (the render's faint specular sheen is all that is left out). ``cavity``: the
    shade ``turned_head`` measured before the head turned (default: of these vertices)."""
    _, lights = view_poses(view)
    light = np.full(len(vertices), AMBIENT, np.float32)
    for pose, intensity in zip(lights, LIGHT_INTENSITIES):
        wrap = np.maximum((normals @ pose[:3, 2] + LIGHT_WRAP) / (1.0 + LIGHT_WRAP), 0.0)
        light += np.float32(intensity * DIFFUSE_SCALE) * wrap.astype(np.float32)
    cavity = cavity_shading(rig, vertices, normals) if cavity is None else cavity
    if cavity is not None:
        for part in rig.parts:
            if cavity_shaded(part):  # as gl_head shades them: the skin and the mouth's inside
                light[part.start : part.stop] *= cavity[part.start : part.stop]
    return light


def shape_lights(rig: Any) -> np.ndarray:
    """(52, V) ``vertex_light`` with each shape alone at full weight, as the renderer poses it: a
    walk's viewer adds the weighted changes, so its creases deepen as the walk plays. Adding is
    exact for one shape and close for several (each mostly darkens its own folds)."""
    from emo_app.blendshapes import ARKIT_NAMES, Blendshapes

    lights = []
    for alone in np.eye(len(ARKIT_NAMES)):
        vertices = rig.deform(Blendshapes(alone))
        lights.append(vertex_light(rig, vertices, posed_normals(rig, vertices)))
    return np.stack(lights)


@per_rig
def _cavity_basis(rig: Any) -> tuple[Any, np.ndarray, float, _MouthLight | None]:
    """The neighbour-mean operator over the welded skin, the neutral face's crease depths, the
    typical vertex spacing and the mouth's neutral light, built once per rig."""
    from scipy.sparse import coo_matrix, diags

    faces = np.concatenate([rig.weld[p.faces + p.start] for p in rig.parts if p.uvs is not None])
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    n = len(rig.neutral)
    adjacency = coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n)).tocsr()
    adjacency.data[:] = 1.0
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    mean = (diags(1.0 / np.maximum(degree, 1)) @ adjacency).astype(np.float32).tocsr()
    neutral = rig.neutral.astype(np.float32)
    offset = mean @ neutral - neutral
    neutral_depth = np.einsum("ij,ij->i", offset, posed_normals(rig, neutral))
    scale = float(np.median(np.linalg.norm(offset, axis=1)[degree > 0]) + 1e-6)
    return mean, neutral_depth, scale, _MouthLight.of(rig)


class FaceRenderer:
    """Thread-safe front door to the render thread. Build it with ``get_face_renderer()``."""

    def __init__(self, settings: Settings | None = None, msaa_samples: int = DEFAULT_MSAA_SAMPLES):
        self.settings = settings or Settings.from_env()
        self.msaa_samples = msaa_samples
        self._queue: queue.Queue[tuple[Callable[[], Any], Future] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state: GLState | None = None

    # -- public API ----------------------------------------------------------------------------
    def render(
        self,
        shapes: Blendshapes,
        *,
        view: str = "front",
        size: int | None = None,
        background: tuple[int, int, int] | None = (255, 255, 255),
        texture: FaceTexture | None = None,
        rig: Any = None,
        pose: HeadPose | None = None,
    ) -> np.ndarray:
        """One posed head as uint8 RGB (size, size, 3), or RGBA with a transparent background
        when ``background`` is None; ``pose`` turns the head on its neck."""
        return self.render_batch(
            [shapes], view=view, size=size, background=background, texture=texture, rig=rig,
            poses=[pose],
        )[0]

    def render_batch(
        self,
        shapes_list: Sequence[Blendshapes],
        *,
        view: str = "front",
        size: int | None = None,
        background: tuple[int, int, int] | None = (255, 255, 255),
        texture: FaceTexture | None = None,
        rig: Any = None,
        poses: Sequence[HeadPose | None] | None = None,
    ) -> list[np.ndarray]:
        """Many weight vectors in one trip to the render thread (what the metric needs);
        ``poses``: one head pose per weight vector (None: all looking straight ahead)."""
        request = self._validate(shapes_list, view, size, background, texture, rig, poses)
        if not request.shapes:
            return []
        return self._submit(lambda: self._draw_all(request))

    def close(self) -> None:
        """Stop the render thread and free its GL context (tests and shutdown)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    # -- internals -------------------------------------------------------------------------------
    def _validate(self, shapes_list, view, size, background, texture, rig, poses=None) -> _Request:
        check_view(view)
        size = self.settings.render_size if size is None else size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 32 <= int(size) <= 2048:
            raise InvalidInputError(
                f"Render size must be a whole number of pixels from 32 to 2048; got {size!r}."
            )
        if background is not None:
            if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
                raise InvalidInputError(
                    "Background must be three 0-255 values (R, G, B) or None for transparent."
                )
            background = tuple(int(c) for c in background)
        shapes = []
        for item in shapes_list:
            if not isinstance(item, Blendshapes):
                raise InvalidInputError(f"Expected Blendshapes to render; got {type(item).__name__}.")
            shapes.append(item)
        poses = [None] * len(shapes) if poses is None else list(poses)
        if len(poses) != len(shapes) or not all(p is None or isinstance(p, HeadPose) for p in poses):
            raise InvalidInputError("Give one HeadPose (or None) per face to render.")
        return _Request(shapes, view, int(size), background, texture, rig, poses)

    def _draw_all(self, request: _Request) -> list[np.ndarray]:
        from emo_app.face.looks import default_face

        rig, texture = request.rig, request.texture
        if rig is None:  # the default face: the settings' head, and its look unless given one
            rig, default_texture = default_face(self.settings)
            texture = default_texture if texture is None else texture
        if self._state is None:
            self._state = GLState(request.size, self.msaa_samples, SHADER_DIR, ROUGHNESS)
        state = self._state
        state.resize(request.size)
        stages = _stages()
        head = state.use_head(rig, texture, stages)
        images = []
        for shapes, pose in zip(request.shapes, request.poses):
            # the same pose again (describe's second view): keep the uploaded one, move the camera
            key = shapes.values.tobytes() + repr(pose).encode()
            if head.pose_key != key:
                vertices, normals, cavity = turned_head(rig, shapes, pose)
                head.upload(vertices, normals, cavity)
                head.pose_key = key
            turned = pose is not None and not pose.is_rest
            images.append(state.shoot(stages[request.view], request.background, every_triangle=turned))
        return images

    def _submit(self, job: Callable[[], Any]) -> Any:
        if self._thread is not None and threading.current_thread() is self._thread:
            return job()
        future: Future = Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="face-render", daemon=True)
                self._thread.start()
            self._queue.put((job, future))
        return future.result()

    def _loop(self) -> None:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        while True:
            item = self._queue.get()
            if item is None:
                break
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)
        if self._state is not None:
            try:
                self._state.delete()
            except Exception as exc:  # some EGL drivers refuse to destroy a context at exit
                log.debug("could not free the render context: %s", exc)
            finally:
                self._state = None


_RENDERER: FaceRenderer | None = None
_RENDERER_LOCK = threading.Lock()


def get_face_renderer(settings: Settings | None = None) -> FaceRenderer:
    """The process-wide renderer (created on first use; the GL context on the first frame)."""
    global _RENDERER
    with _RENDERER_LOCK:
        if _RENDERER is None:
            os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
            _RENDERER = FaceRenderer(settings)
        return _RENDERER
