"""Blendshape files: named JSON and Epic's Live Link Face CSV (read and write, with Timecode)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emo_app.blendshapes.pose import HeadPose
from emo_app.blendshapes.schema import (
    ARKIT_NAMES,
    LIVE_LINK_COLUMNS,
    LIVE_LINK_ROTATIONS,
    Blendshapes,
    Policy,
)
from emo_app.errors import InvalidInputError

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_LIVE_LINK_LINE = 4096  # characters: a recording's line (timecode, count and 61 numbers) is under 1000
# A still pose is written as a take this long: a one-row file is a take without length (a
# zero-length Level Sequence in Unreal's Live Link Face importer; Blender add-ons that skip the
# first data row read no frame at all).
STILL_TAKE_SECONDS = 1.0
_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2}):(\d{1,3})(?:\.(\d+))?$")


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


PASCAL_TO_ARKIT = {_pascal(n): n for n in ARKIT_NAMES}


JSON_FORMAT = ("blendshapes: Apple ARKit's 52 face blendshape weights by name, each in [0, 1] "
               "(0 at rest, 1 at the full shape); the other fields say what the face shows")


def to_json(shapes: Blendshapes, **extra: object) -> str:
    """Named JSON that says what it is: {"format": JSON_FORMAT, "blendshapes": {name: weight,
    ...}, ...extra} (``extra``: the description, model, emotions or point it came from)."""
    return json.dumps({"format": JSON_FORMAT, "blendshapes": shapes.to_dict(), **extra}, indent=2)


def pose_from_json(text: str | bytes) -> HeadPose:
    """The head pose a face's JSON stores under "head_pose" (``to_json``'s extra, degrees); a
    JSON without one, or weights alone, is a head at rest."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidInputError(f"The blendshape JSON could not be read: {exc}.") from exc
    return HeadPose.from_dict(data.get("head_pose") if isinstance(data, dict) else None)


def from_json(text: str | bytes, policy: Policy = "clip") -> Blendshapes:
    """Accepts {"blendshapes": {...}}, a flat {name: weight} object or a list of 52 numbers."""
    if isinstance(text, bytes):
        if len(text) > MAX_IMPORT_BYTES:
            raise InvalidInputError("The JSON file is larger than 20 MB; it cannot be blendshapes.")
        text = text.decode("utf-8", errors="replace")
    if isinstance(text, str) and len(text) > MAX_IMPORT_BYTES:
        raise InvalidInputError("The JSON text is larger than 20 MB; it cannot be blendshapes.")
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:  # JSONDecodeError, or an integer with 4300+ digits
        raise InvalidInputError(f"The blendshape JSON could not be read: {exc}.") from exc
    except RecursionError as exc:
        raise InvalidInputError("The blendshape JSON is nested too deeply to be blendshapes.") from exc
    if isinstance(data, dict) and "blendshapes" in data:
        data = data["blendshapes"]
    if isinstance(data, list):
        return Blendshapes.from_array(data, policy)
    if isinstance(data, dict):
        return Blendshapes.from_dict(data, policy)
    raise InvalidInputError("Blendshape JSON must be an object of name -> weight or a list of 52 numbers.")


def timecode(frame: int, fps: float = 60.0) -> str:
    """Live Link Face's HH:MM:SS:FF.fff for a frame index at ``fps``."""
    whole_fps = max(1, int(round(fps)))
    seconds, frames = divmod(frame, whole_fps)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{frames:02d}.000"


def parse_timecode(text: str, fps: float = 60.0) -> float:
    """Seconds from HH:MM:SS:FF(.fff)."""
    match = _TIMECODE.match(text.strip())
    if not match:
        raise InvalidInputError(f"'{text}' is not a Live Link timecode (HH:MM:SS:FF.fff).")
    h, m, s, f = (int(g) for g in match.groups()[:4])
    sub = float("0." + match.group(5)) if match.group(5) else 0.0
    return h * 3600 + m * 60 + s + (f + sub) / fps


@dataclass
class LiveLinkTake:
    """A Live Link Face recording: frames of blendshapes plus head/eye rotations."""

    frames: list[Blendshapes]
    timecodes: list[str] = field(default_factory=list)
    rotations: np.ndarray | None = None  # (n_frames, 9) HeadYaw..RightEyeRoll


def resample_frames(frames: Sequence[Blendshapes], fps: float, target_fps: float = 60.0) -> list[Blendshapes]:
    """A sequence played at ``fps`` as frames at ``target_fps``, each weight linear in time
    between its keys (as a GLB's LINEAR animation of them plays), over the same span: a 6 fps
    walk becomes a take Live Link Face's importers read at the 60 fps they expect."""
    keys = np.stack([f.values for f in frames]).astype(np.float64)
    if len(keys) < 2:
        return list(frames)
    times = np.arange(len(keys)) / fps
    samples = np.arange(int(np.floor(times[-1] * target_fps + 1e-9)) + 1) / target_fps
    values = np.column_stack([np.interp(samples, times, keys[:, k]) for k in range(keys.shape[1])])
    return [Blendshapes.from_array(row) for row in values]


def write_live_link_csv(
    frames: Blendshapes | Sequence[Blendshapes],
    path: str | Path | None = None,
    fps: float = 60.0,
    rotations: np.ndarray | None = None,
) -> str:
    """Write one row per frame in Live Link Face's layout (Timecode, BlendShapeCount, the 52
    shapes in its order, 9 head and eye rotations); returns the CSV text. A single Blendshapes
    (not a list) is a still pose, held for ``STILL_TAKE_SECONDS``; at 60 fps its frame numbers
    pass 30, from which Unreal's importer infers the 60 fps it was written at."""
    still = isinstance(frames, Blendshapes)
    if still:
        frames = [frames] * max(2, int(round(STILL_TAKE_SECONDS * fps)))
    if rotations is None:
        rotations = np.zeros((len(frames), len(LIVE_LINK_ROTATIONS)))
    rotations = np.asarray(rotations, dtype=np.float64).reshape(-1, len(LIVE_LINK_ROTATIONS))
    if still and len(rotations) == 1:
        rotations = np.repeat(rotations, len(frames), axis=0)
    if len(rotations) != len(frames):
        raise InvalidInputError(f"Give one row of head and eye rotations per frame: {len(rotations)} rows "
                                f"for {len(frames)} frames.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LIVE_LINK_COLUMNS)
    for index, shapes in enumerate(frames):
        named = shapes.to_dict()
        row: list[object] = [timecode(index, fps), 61]
        row += [f"{named[PASCAL_TO_ARKIT[c]]:.6g}" for c in LIVE_LINK_COLUMNS[2:-9]]
        row += [f"{float(r):.6g}" for r in rotations[index]]
        writer.writerow(row)
    text = buffer.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def read_live_link_csv(source: str | Path | bytes, policy: Policy = "clip") -> LiveLinkTake:
    """Read a Live Link Face CSV (a path, the text itself or its bytes); unknown columns are an error."""
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_IMPORT_BYTES:
            raise InvalidInputError("The CSV file is larger than 20 MB.")
        source = bytes(source).decode("utf-8", errors="replace")
    if not isinstance(source, (str, Path)):
        raise InvalidInputError(f"Expected a Live Link CSV path or text; got {type(source).__name__}.")
    if isinstance(source, str) and not source.strip():
        raise InvalidInputError("The Live Link CSV is empty.")
    if isinstance(source, Path) or ("\n" not in source and len(source) < 4096):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"No such CSV file: {path}.")
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise InvalidInputError("The CSV file is larger than 20 MB.")
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        if len(source) > MAX_IMPORT_BYTES:
            raise InvalidInputError("The CSV text is larger than 20 MB.")
        text = source
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > MAX_LIVE_LINK_LINE:  # whatever the csv module's process-wide field limit is now
        raise InvalidInputError(f"Not a Live Link Face CSV: a line of {longest} characters (a recording's "
                                f"are under {MAX_LIVE_LINK_LINE}).")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise InvalidInputError(f"Not a Live Link Face CSV: {exc}.") from exc
    if not rows:
        raise InvalidInputError("The Live Link CSV is empty.")
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header if h not in LIVE_LINK_COLUMNS]
    if unknown:
        raise InvalidInputError(f"Not a Live Link Face CSV: unknown columns {unknown[:5]}.")
    shape_columns = [(i, PASCAL_TO_ARKIT[h]) for i, h in enumerate(header) if h in PASCAL_TO_ARKIT]
    if not shape_columns:
        raise InvalidInputError("The Live Link CSV has no blendshape columns.")
    rot_columns = [header.index(r) if r in header else -1 for r in LIVE_LINK_ROTATIONS]
    frames, codes, rotations = [], [], []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InvalidInputError(f"Line {line_no} has {len(row)} fields; the header has {len(header)}.")
        try:
            named = {name: float(row[i]) for i, name in shape_columns}
            rot = [float(row[i]) if i >= 0 else 0.0 for i in rot_columns]
        except ValueError as exc:
            raise InvalidInputError(f"Line {line_no}: {exc}.") from exc
        frames.append(Blendshapes.from_dict(named, policy))
        rotations.append(rot)
        codes.append(row[header.index("Timecode")] if "Timecode" in header else "")
    if not frames:
        raise InvalidInputError("The Live Link CSV has a header but no frames.")
    return LiveLinkTake(frames, codes, np.asarray(rotations, dtype=np.float32))
