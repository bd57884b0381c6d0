"""The C2A2 emotion space: table, spherical form, walks and the Emo3D mapping."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities
from emo_app.emotion.space import (
    BASIC_CLASSES,
    C2A2_CLASSES,
    CLASS_COMPONENTS,
    CLASS_NAMES,
    COMPOUND_CLASSES,
    EmotionPoint,
    axis_walk,
    canonical_class,
    circle_walk,
    class_walk,
    nearest_class,
    nearest_classes,
)
from emo_app.errors import InvalidInputError

coords = st.floats(-1.0, 1.0, allow_nan=False)


def test_twenty_classes_seven_basic():
    assert len(C2A2_CLASSES) == 20 and len(BASIC_CLASSES) == 7 and len(COMPOUND_CLASSES) == 13
    for name, xyz in C2A2_CLASSES.items():
        radius = float(np.linalg.norm(xyz))
        assert radius == pytest.approx(0.0 if name == "Neutral" else 1.0, abs=2e-3), name


def test_table_matches_published_reference(shared_dir):
    text = (shared_dir / "reference" / "c2a2_space.md").read_text()
    number = r"(-?[\d.]+)"
    pattern = rf"^\| ([A-Z][a-z]+(?: [a-z]+)?) \| {number} \| {number} \| {number} \|$"
    rows = re.findall(pattern, text, re.M)
    assert len(rows) == 20
    for name, x, y, z in rows:
        assert C2A2_CLASSES[name] == pytest.approx((float(x), float(y), float(z)), abs=1e-4)


def test_each_class_is_its_own_nearest():
    for name in C2A2_CLASSES:
        assert nearest_class(EmotionPoint.of_class(name)) == name


def test_nearest_classes_sorted_with_distances():
    top = nearest_classes(EmotionPoint(0.9, 0.4, 0.0), n=3)
    assert [n for n, _ in top][0] == "Happily surprised"
    distances = [d for _, d in top]
    assert distances == sorted(distances)


def test_study_points_have_a_nearest_class(shared_dir):
    points = json.loads((shared_dir / "reference" / "study_points_3d.json").read_text())
    assert len(points) == 315
    found = {nearest_class(EmotionPoint(p["x"], p["y"], p["z"])) for p in points}
    assert len(found) >= 15  # the study covers most classes


@given(st.floats(-math.pi + 1e-6, math.pi), st.floats(-math.pi / 2 + 1e-6, math.pi / 2 - 1e-6),
       st.floats(1e-3, 2.0))
def test_spherical_to_cartesian_round_trip(theta, phi, r):
    point = EmotionPoint.from_spherical(theta, phi, r)
    assert point.radius == pytest.approx(r, rel=1e-9)
    t2, p2, r2 = point.to_spherical()
    assert r2 == pytest.approx(r, rel=1e-9)
    assert p2 == pytest.approx(phi, abs=1e-6)
    if abs(math.cos(phi)) > 1e-4:
        assert math.cos(t2 - theta) == pytest.approx(1.0, abs=1e-6)


@given(coords, coords, coords)
@example(0.0, 7.220385484712707e-09, 1.0)  # near a pole: asin(z / r) used to lose y
def test_cartesian_to_spherical_round_trip(x, y, z):
    point = EmotionPoint(x, y, z)
    again = EmotionPoint.from_spherical(*point.to_spherical())
    np.testing.assert_allclose(again.as_array(), point.as_array(), atol=1e-9)


def test_spherical_convention_documented_examples():
    theta, phi, r = EmotionPoint.of_class("Fearful").to_spherical()
    assert phi == pytest.approx(math.pi / 3, abs=1e-3) and r == pytest.approx(1.0, abs=1e-3)
    assert EmotionPoint.of_class("Sad").to_spherical()[1] == pytest.approx(-math.pi / 3, abs=1e-3)
    assert EmotionPoint.of_class("Happy").to_spherical()[0] == pytest.approx(0.104, abs=1e-3)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", None, True, 11.0])
def test_bad_coordinates_are_rejected(bad):
    with pytest.raises(InvalidInputError):
        EmotionPoint(bad, 0.0, 0.0)


def test_axis_walk_goes_from_neutral_to_class():
    walk = axis_walk("Angry", steps=5)
    assert walk[0].radius == 0 and nearest_class(walk[-1]) == "Angry"
    radii = [p.radius for p in walk]
    assert radii == sorted(radii)


@given(st.floats(-3, 3), st.floats(-10, 10), st.floats(0.05, 1.0))
def test_circle_walk_stays_on_its_radius(tilt, start_angle, r):
    walk = circle_walk(tilt=tilt, start_angle=start_angle, r=r, steps=12)
    assert len(walk) == 12
    for point in walk:
        assert point.radius == pytest.approx(r, rel=1e-9)
    start = walk[0].as_array()
    assert start == pytest.approx(r * np.array([math.cos(start_angle), math.sin(start_angle) * math.cos(tilt),
                                                math.sin(start_angle) * math.sin(tilt)]))


def test_circle_walk_in_plane_for_no_tilt():
    assert all(abs(p.z) < 1e-12 for p in circle_walk(0.0, 0.0, 0.8, steps=8))


def test_circle_walk_angles_are_not_the_spherical_theta_and_phi():
    """The walk's angles have their own names: a tilted circle's start is not from_spherical's
    (azimuth, elevation) point, and the services keep the figures' theta/phi as aliases."""
    from emo_app import services

    walk = circle_walk(tilt=math.pi / 3, start_angle=math.pi / 2, r=1.0, steps=4)
    assert walk[0].as_array() == pytest.approx([0.0, 0.5, math.sqrt(3) / 2])
    assert EmotionPoint.from_spherical(math.pi / 3, math.pi / 2, 1.0).as_array() == pytest.approx([0, 0, 1])
    named = services.walk_points("circle", tilt=math.pi / 3, start_angle=math.pi / 2, r=1.0, steps=4)
    legacy = services.walk_points("circle", theta=math.pi / 3, phi=math.pi / 2, r=1.0, steps=4)
    assert named == legacy == walk
    with pytest.raises(InvalidInputError, match="start_angle must be a finite number"):
        circle_walk(0.0, math.nan, 0.8)


def test_class_walk_slerp_stays_on_sphere_and_line_does_not():
    on_sphere = class_walk("Happy", "Sad", steps=7)
    straight = class_walk("Happy", "Sad", steps=7, spherical=False)
    assert all(p.radius == pytest.approx(1.0, abs=2e-3) for p in on_sphere)
    assert straight[3].radius < 0.9
    assert nearest_class(on_sphere[0]) == "Happy" and nearest_class(on_sphere[-1]) == "Sad"
    antipodal = class_walk("Happy", "Happily disgusted", steps=5)
    assert all(np.isfinite(p.as_array()).all() for p in antipodal)


def test_class_names_are_forgiving():
    assert canonical_class("happily-surprised") == "Happily surprised"
    with pytest.raises(InvalidInputError, match="Unknown C2A2 class"):
        canonical_class("bored")
    with pytest.raises(InvalidInputError, match="steps"):
        axis_walk("Happy", steps=1)


@pytest.mark.parametrize(
    "emotion, cls",
    [("happiness", "Happy"), ("surprise", "Surprised"), ("sadness", "Sad"), ("anger", "Angry"),
     ("disgust", "Disgusted"), ("fear", "Fearful"), ("contempt", "Disgusted")],
)
def test_single_emotion_maps_to_its_class_and_back(emotion, cls):
    intensities = EmotionIntensities.from_dict({emotion: 1.0})
    point = intensities.to_point()
    assert nearest_class(point) == cls
    if emotion != "contempt":  # C2A2 has no contempt class: it comes back as disgust
        assert EmotionIntensities.from_point(point).dominant() == emotion


def test_mapping_scales_and_blends():
    half = EmotionIntensities.from_dict({"happiness": 0.5, "neutral": 0.5}).to_point()
    assert half.radius == pytest.approx(0.5, abs=1e-3)  # Happy is on the sphere to 4 decimals
    assert EmotionIntensities.from_dict({"neutral": 1.0}).to_point().radius == 0
    both = EmotionIntensities.from_dict({"happiness": 1.0, "surprise": 1.0}).to_point()
    assert nearest_class(both) == "Happily surprised" and both.radius <= 1.0
    back = EmotionIntensities.from_point(EmotionPoint.of_class("Happily sad"))
    assert back["happiness"] > 0.5 and back["sadness"] > 0.5
    assert back["neutral"] == pytest.approx(0.0, abs=1e-3)
    assert EmotionIntensities.from_point(EmotionPoint(0, 0, 0)).dominant() == "neutral"
    assert len(EMO3D_EMOTIONS) == 8 and EMO3D_EMOTIONS[6:] == ("fear", "contempt")


@pytest.mark.parametrize("name", [c for c in CLASS_NAMES if c != "Neutral"])
def test_a_class_marker_gives_exactly_its_own_emotions(name):
    """The sphere's face (and a study item's) on a class marker shows that class. Classes crowd:
    Sadly fearful's marker, 5.7 degrees from Disgusted, gave disgust 1.0 and fear 0.61."""
    from emo_app.emotion.emotions import CLASS_TO_EMOTION

    intensities = EmotionIntensities.from_point(EmotionPoint.of_class(name))
    parts = {CLASS_TO_EMOTION[part] for part in CLASS_COMPONENTS[name]}
    assert {e for e in EMO3D_EMOTIONS if intensities[e] > 0.01} == parts


def test_the_emotions_change_smoothly_between_two_crowded_classes():
    """Exact on the markers, yet no jump between them: going from Disgusted past Sadly fearful
    in steps of 0.02 degrees, no emotion moves by 0.05 in one step."""
    start = EmotionPoint.of_class("Disgusted").as_array()
    toward = EmotionPoint.of_class("Sadly fearful").as_array()
    start = start / np.linalg.norm(start)
    across = toward - (toward @ start) * start
    across /= np.linalg.norm(across)
    path = [np.cos(t) * start + np.sin(t) * across for t in np.radians(np.arange(-10, 20, 0.02))]
    rows = np.array([EmotionIntensities.from_point(EmotionPoint(*p)).values for p in path])
    assert rows[0].argmax() != rows[-1].argmax()  # the path does cross from one class to another
    assert np.abs(np.diff(rows, axis=0)).max() < 0.05


@pytest.mark.parametrize("a, b", [("Happy", "Sad"), ("Happy", "Surprised")])
def test_a_walk_between_two_classes_moves_the_face_at_every_step(a, b):
    """A 60-frame walk is an animation: the face should change all along it. Inverse-distance
    weighting held it still near each class (40 of 59 steps moved no blendshape by 0.005 from
    Happy to Sad) and spent 80% of the change in 8 steps."""
    from emo_app.emotion.space import class_walk
    from emo_app.text.facs import shapes_for_point

    shapes = np.array([shapes_for_point(p).values for p in class_walk(a, b, steps=60)])
    moves = np.abs(np.diff(shapes, axis=0)).max(axis=1)
    assert (moves < 0.005).sum() <= 12  # measured: 7 and 9
    largest_first = np.cumsum(np.sort(moves)[::-1])
    assert np.searchsorted(largest_first, 0.8 * moves.sum()) + 1 >= 20  # measured: 30 and 29
