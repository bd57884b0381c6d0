"""The default face is the full ICT-FaceKit head in its generated skin, and it reads as a face:
brows move, lips are coloured, no lash crescent, ears in the silhouette."""

from __future__ import annotations

import numpy as np
import pytest

from emo_app import services
from emo_app.blendshapes import ARKIT_NAMES, Blendshapes
from emo_app.face import get_face_renderer
from emo_app.face.hd_head import TONGUE_JAW, landmark_points
from emo_app.face.looks import head_rig
from emo_app.face.render import project
from emo_app.face.skin import TONES, skin_texture

SIZE = 512
BROW_TOP = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}


@pytest.fixture(scope="module")
def head():
    return head_rig("full")


def _render(weights: dict[str, float] | None = None, **kwargs) -> np.ndarray:
    return services.render_face(Blendshapes.from_dict(weights or {}), size=SIZE, **kwargs).images["front"]


def _luma(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float64) @ [0.299, 0.587, 0.114]


def test_default_face_is_the_full_head_with_ears(head):
    assert head.vertex_count > 20_000 and head.head == "ict"
    out = services.render_face(Blendshapes.zeros(), size=64)
    assert out.rig is head
    # transparent background: the ears stick out beyond the cheeks in the silhouette
    rgba = get_face_renderer().render(Blendshapes.zeros(), size=SIZE, background=None, rig=head,
                                      texture=out.texture)
    face = head.part("face")
    points = head.neutral[face.start : face.stop]
    for side in (1, -1):
        ear = points[(side * points[:, 0] > 7.0) & (points[:, 1] > 1.0) & (points[:, 1] < 3.5)]
        assert len(ear) > 10
        pixels = project(ear, "front", SIZE)
        row = int(round(pixels[:, 1].mean()))
        opaque = np.flatnonzero(rgba[row, :, 3] > 0)
        outermost = pixels[:, 0].max() if side > 0 else pixels[:, 0].min()
        # the silhouette reaches out to the ear's outer rim at the ear's height
        assert abs((opaque.max() if side > 0 else opaque.min()) - outermost) < 4


def _brow_row(image: np.ndarray, head, vertices=None) -> float:
    """The row of the darkest band (the brow) in a column strip through the middle of each
    brow, averaged over both brows."""
    points = landmark_points(head, vertices)
    rows = []
    for top in BROW_TOP.values():
        centre = project(points[list(top)], "front", SIZE).mean(0)
        col, row = int(centre[0]), int(centre[1])
        strip = _luma(image[row - 40 : row + 40, col - 6 : col + 6]).mean(axis=1)
        rows.append(row - 40 + float(np.argmin(strip)))
    return float(np.mean(rows))


def test_brows_move_down_with_browdown_and_up_with_inner_up(head):
    neutral = _brow_row(_render(), head)
    down = _brow_row(_render({"browDownLeft": 1, "browDownRight": 1}), head)
    up = _brow_row(_render({"browInnerUp": 1, "browOuterUpLeft": 1, "browOuterUpRight": 1}), head)
    assert down > neutral + 2  # rows grow downwards
    assert up < neutral - 2


# MediaPipe's inner-lip landmarks, upper and lower, in pairs facing each other across the mouth
INNER_LIP_PAIRS = ((191, 95), (80, 88), (81, 178), (82, 87), (13, 14), (312, 317), (311, 402),
                   (310, 318), (415, 324))


def test_inner_lip_landmarks_sit_on_their_own_lip(head):
    """With the jaw open each lower inner-lip landmark drops with the lower lip, below its upper
    partner, which stays with the upper lip: photo skin cuts the mouth and skin draws the lips
    from them, so a landmark on the other lip puts the lip line in the wrong place."""
    closed = landmark_points(head)
    opened = landmark_points(head, head.deform(Blendshapes.from_dict({"jawOpen": 1.0})))
    gap = closed[:, 1] - opened[:, 1]  # how far each landmark drops
    lip_gap = opened[13, 1] - opened[14, 1]  # the opening at the middle
    for upper, lower in INNER_LIP_PAIRS:
        assert gap[lower] > gap[upper] + 0.25 * lip_gap, (upper, lower, gap[upper], gap[lower])
        assert opened[lower, 1] < opened[upper, 1] - 0.25 * lip_gap, (upper, lower)


@pytest.mark.parametrize("level", [0.5, 0.75, 1.0])
def test_a_disgusted_mouth_lifts_both_lips_instead_of_baring_the_teeth(head, level):
    """Disgust raises the upper lip AND pushes the lower lip up after it (AU10 with AU17), so the
    mouth stays an inverted U that shows only the tips of the upper teeth. The earlier prior
    lifted the upper lip alone (the lower lip followed a quarter of the way) and opened a wide
    band of gums and teeth that people and the FER judge read as an angry snarl."""
    from emo_app.emotion.emotions import EMO3D_EMOTIONS
    from emo_app.text.facs import emotion_prior

    intensities = np.zeros(len(EMO3D_EMOTIONS))
    intensities[EMO3D_EMOTIONS.index("disgust")] = level
    rest = landmark_points(head)
    posed = landmark_points(head, head.deform(Blendshapes.from_array(emotion_prior(intensities).values)))
    upper_lip_rise = posed[0, 1] - rest[0, 1]  # the upper lip's outer middle (MediaPipe 0)
    lower_lip_rise = posed[17, 1] - rest[17, 1]  # the lower lip's outer middle (MediaPipe 17)
    width = np.linalg.norm(posed[61] - posed[291]) / np.linalg.norm(rest[61] - rest[291])
    assert upper_lip_rise > 0.3, upper_lip_rise  # the lip raise shows (head units: cm)
    assert lower_lip_rise > 0.4 * upper_lip_rise, (lower_lip_rise, upper_lip_rise)
    assert width < 1.25, width  # the corners are not stretched out as in fear's AU20


def test_a_full_disgust_narrows_the_eyes_without_shutting_them(head):
    """The cheek raiser (with a little eye closing) shut the lids of a full-intensity disgust to
    3% of their rest opening: a wince, which FER read as angry. They narrow, and stay open."""
    from emo_app.emotion.emotions import EMO3D_EMOTIONS
    from emo_app.text.facs import emotion_prior

    def opening(points: np.ndarray) -> float:  # upper minus lower lid, both eyes (MediaPipe ids)
        return float(np.mean([points[159, 1] - points[145, 1], points[386, 1] - points[374, 1]]))

    intensities = np.zeros(len(EMO3D_EMOTIONS))
    intensities[EMO3D_EMOTIONS.index("disgust")] = 1.0
    posed = landmark_points(head, head.deform(Blendshapes.from_array(emotion_prior(intensities).values)))
    ratio = opening(posed) / opening(landmark_points(head))
    assert 0.2 < ratio < 0.8, ratio  # narrowed (cheeks raised) but open


def test_lips_are_redder_than_the_cheeks(head):
    image = _render()
    points = project(landmark_points(head), "front", SIZE)

    def redness(index: int) -> float:
        x, y = np.round(points[index]).astype(int)
        patch = image[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).astype(float)
        r, g, _ = patch.mean(0)
        return r / max(g, 1.0)

    lips = np.mean([redness(i) for i in (11, 12, 15, 16)])  # inside the upper and lower lip
    cheeks = np.mean([redness(i) for i in (50, 280)])
    assert lips > cheeks + 0.1


def test_no_dark_crescent_under_the_eyes(head):
    """Opaque lash cards drew a dark crescent under each eye; lashes live in the skin now."""
    image = _luma(_render())
    points = project(landmark_points(head), "front", SIZE)
    for lower_lid in (145, 374):  # the lower lid's middle
        x, y = np.round(points[lower_lid]).astype(int)
        below = image[y + 4 : y + 14, x - 6 : x + 7]
        assert below.min() > 90, f"dark band under the eye at landmark {lower_lid}"


@pytest.mark.parametrize("tone", TONES)
def test_each_skin_tone_draws(tone, head):
    texture = skin_texture(tone)
    assert texture.image.shape[1] == 2 * texture.image.shape[0]
    image = _render(tone=tone)
    points = project(landmark_points(head), "front", SIZE)
    x, y = np.round(points[50]).astype(int)
    assert image[y - 2 : y + 3, x - 2 : x + 3].std() < 40  # skin, not background or a hole


def test_tones_differ_and_skin_is_reproducible():
    light, deep = skin_texture("light").image, skin_texture("deep").image
    assert light.mean() > deep.mean() + 40
    from emo_app.face.skin import build_atlas, skin_tones

    again = build_atlas(head_rig("full"), skin_tones()["deep"], side=128)
    assert np.array_equal(again, build_atlas(head_rig("full"), skin_tones()["deep"], side=128))


def test_dark_background_and_unknown_choices(head):
    dark = _render(background="dark")
    assert dark[2, 2].max() < 60
    from emo_app.errors import InvalidInputError

    for bad in ({"head": "robot"}, {"tone": "green"}, {"background": "plaid"}, {"look": "oil"}):
        with pytest.raises(InvalidInputError):
            services.render_face(Blendshapes.zeros(), size=64, **bad)


def test_views_of_one_pose_share_the_mesh_and_a_new_pose_rebuilds_it(head):
    """The renderer keeps the posed mesh between views of the same weights (describe draws two);
    a changed weight must never show the old pose."""
    renderer = get_face_renderer()
    smile = Blendshapes.from_dict({"mouthSmileLeft": 1, "mouthSmileRight": 1})
    frown = Blendshapes.from_dict({"mouthFrownLeft": 1, "mouthFrownRight": 1})
    texture = skin_texture()
    first = renderer.render(smile, size=128, rig=head, texture=texture)
    renderer.render(smile, view="three_quarter", size=128, rig=head, texture=texture)
    again = renderer.render(smile, size=128, rig=head, texture=texture)
    assert np.array_equal(first, again)
    assert not np.array_equal(renderer.render(frown, size=128, rig=head, texture=texture), first)


def _atlas_at(texture, part, vertices: np.ndarray) -> np.ndarray:
    """The skin atlas's colour under each vertex of ``part`` (nearest texel)."""
    height, width = texture.image.shape[:2]
    uv = part.uvs[vertices]
    rows = np.clip((uv[:, 1] * height).astype(int), 0, height - 1)
    cols = np.clip((uv[:, 0] * width).astype(int), 0, width - 1)
    return texture.image[rows, cols].astype(np.float64) @ [0.299, 0.587, 0.114]


def test_the_haircut_covers_the_sides_and_leaves_the_ears_bare(head):
    """A short crop: hair on the sides of the head above and behind the ears and at the back
    down to the nape, bare skin on the ears and the forehead (the old hairline left the skull
    bare behind each ear, so the hair at the back came down to a V)."""
    texture = skin_texture("medium")
    skin = _atlas_at(texture, head.part("face"), np.arange(head.part("face").size))
    forehead_luma = np.median(skin[np.abs(head.neutral[: head.part("face").size, 0]) < 1.5][:50])

    def luma(name: str, where) -> np.ndarray:
        part = head.part(name)
        v = head.neutral[part.start : part.stop]
        chosen = np.flatnonzero(where(v[:, 0], v[:, 1], v[:, 2]))
        assert len(chosen) >= 5, name
        return _atlas_at(texture, part, chosen)

    above_ears = luma("head", lambda x, y, z: (np.abs(x) > 5.5) & (6 < y) & (y < 8) & (-5 < z) & (z < -2.5))
    behind_ears = luma("head", lambda x, y, z: (np.abs(x) > 5) & (1 < y) & (y < 5) & (-7.5 < z) & (z < -5.5))
    nape_sides = luma("head", lambda x, y, z: (np.abs(x) > 3.0) & (y > 1.0) & (y < 2.5) & (z < -7))
    ears = luma("face", lambda x, y, z: (np.abs(x) > 7.0) & (y > 0.5) & (y < 4.0) & (z < 0))
    hair = forehead_luma - 40  # the medium tone's hair is far darker than its skin
    assert np.median(above_ears) < hair and np.median(behind_ears) < hair and np.median(nape_sides) < hair
    assert np.median(ears) > hair


def test_an_open_mouth_is_dark_inside_from_three_quarter(head):
    """ICT's mouth bag (the inside of the cheeks, the palate, the throat) belongs to the
    back-of-head mesh: drawn in skin colour, an open mouth seen from three-quarter showed a lit,
    skin-coloured cheek inside. Its lining is now dark red; the skin beside the mouth is not."""
    wide = Blendshapes.from_dict({"jawOpen": 0.6, "mouthFunnel": 0.2})
    image = services.render_face(wide, size=SIZE, views=("three_quarter",)).images["three_quarter"]
    posed = head.deform(wide)

    def nearest(part_name: str, point: list[float]) -> int:
        part = head.part(part_name)
        return part.start + int(np.argmin(np.linalg.norm(posed[part.start : part.stop] - point, axis=1)))

    inner_cheek, cheek = nearest("head", [-2.0, -2.6, 3.5]), nearest("face", [-4.5, -1.5, 4.0])
    points = np.round(project(posed[[inner_cheek, cheek]], "three_quarter", SIZE)).astype(int)
    luma = _luma(image)
    inside, outside = (float(np.median(luma[y - 1 : y + 2, x - 1 : x + 2])) for x, y in points)
    assert inside < 0.45 * outside, (inside, outside)
    red = image[points[0][1], points[0][0], :3].astype(int)
    assert red[0] > red[1] + 8  # a mouth's red, not grey


def test_teeth_in_the_mouths_shadow_stay_ivory_not_grey_blue(head):
    """The back teeth, deep in the mouth's shadow, showed grey-blue in an open mouth seen from
    three-quarter: the shadow is warmed by the gums and tongue, so they keep a tooth's colour."""
    mouth = head.part("mouth")
    colours = mouth.colors[:, :3]
    teeth = colours[:, 0] - colours[:, 1] < 0.25 * colours[:, 0]  # grey-white, not gums or tongue
    z = head.neutral[mouth.start : mouth.stop, 2]  # the face looks along +z
    front = teeth & (z >= np.quantile(z[teeth], 0.9))
    back = teeth & (z <= np.quantile(z[teeth], 0.1))
    front_rgb, back_rgb = colours[front].mean(axis=0), colours[back].mean(axis=0)
    assert back_rgb.sum() < 0.6 * front_rgb.sum()  # in shadow
    assert back_rgb[0] / back_rgb[2] > 1.15 * front_rgb[0] / front_rgb[2], (front_rgb, back_rgb)  # warmer
    assert back_rgb[0] > back_rgb[1] > back_rgb[2]  # ivory's order, no blue cast


def test_tongue_out_brings_the_tongue_past_the_lips_on_the_full_head(head):
    """ICT-FaceKit has no tongueOut: 'Tongue out, playful' and 😛 showed a closed mouth. The sculpted
    shape slides the tongue out over the lower lip; the teeth and gums only follow the jaw."""
    tongue_out = ARKIT_NAMES.index("tongueOut")
    mouth = head.part("mouth")
    beyond_jaw = head.deltas[tongue_out] - TONGUE_JAW * head.deltas[ARKIT_NAMES.index("jawOpen")]
    moved = np.flatnonzero(np.linalg.norm(beyond_jaw, axis=1) > 1e-4)
    assert moved.size > 100 and mouth.start <= moved.min() and moved.max() < mouth.stop
    colours = mouth.colors[moved - mouth.start, :3]
    assert np.all(colours[:, 0] > 1.3 * colours[:, 1])  # pink: the tongue, never a tooth
    posed = head.deform(Blendshapes.from_dict({"tongueOut": 1.0}))
    lower_lip = landmark_points(head, posed)[17]  # MediaPipe 17: the lower lip's outer edge
    assert posed[moved, 2].max() > lower_lip[2] + 1.0
    closed, out = _render(), _render({"tongueOut": 1.0})
    changed = np.abs(out[..., :3].astype(int) - closed[..., :3].astype(int)).max(axis=2) > 40
    assert changed.sum() > 1500, changed.sum()  # a tongue's worth of pixels at 512 px


def test_a_tongue_stuck_out_leaves_the_mouths_shadow_and_an_open_mouth_keeps_it(head):
    """The mouth's colours hold the neutral pose's shadow, so the tongue came out as dark as it
    sits behind the teeth (a mauve tongue); an open mouth's inside must stay as it was."""
    from emo_app.face.render import cavity_shading, posed_normals

    mouth = head.part("mouth")

    def relight(weights: dict[str, float]) -> np.ndarray:
        posed = head.deform(Blendshapes.from_dict(weights))
        return cavity_shading(head, posed, posed_normals(head, posed))[mouth.start : mouth.stop]

    np.testing.assert_array_equal(relight({"jawOpen": 1.0, "mouthFunnel": 0.3}), 1.0)
    out = relight({"tongueOut": 1.0})
    assert out.max() > 1.3 and out.min() == 1.0  # the tip in full light; the teeth untouched
    closed, stuck_out = _render({"jawOpen": 0.4}), _render({"tongueOut": 1.0})
    changed = np.abs(stuck_out[..., :3].astype(int) - closed[..., :3].astype(int)).max(axis=2) > 40
    tongue = stuck_out[..., :3][changed].astype(float)
    assert tongue[:, 0].mean() > 150 and tongue[:, 0].mean() > 1.3 * tongue[:, 1].mean()  # lit pink


def test_the_3d_viewer_lights_a_stuck_out_tongue_as_the_render_does(head):
    """The page's 3D viewer takes its colours from ``vertex_light``, which left the mouth out of
    the relight: its tongue stayed in the mouth's shadow (median light 0.72, darker than at rest)."""
    from emo_app.face.render import posed_normals, vertex_light

    mouth = head.part("mouth")

    def light(weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        posed = head.deform(Blendshapes.from_dict(weights))
        lit = vertex_light(head, posed, posed_normals(head, posed))[mouth.start : mouth.stop]
        return lit, posed[mouth.start : mouth.stop, 2] - head.neutral[mouth.start : mouth.stop, 2]

    rest, _ = light({})
    out, came = light({"tongueOut": 1.0})
    tip = came > 1.5
    assert tip.sum() > 50 and np.median(out[tip]) > 1.5 * np.median(rest[tip])  # out of the shadow
    opened, _ = light({"jawOpen": 1.0})
    assert np.median(opened) < np.median(rest)  # an open mouth's inside keeps its shadow
