"""Where a capture writes: the fabric's folder, new strip names, and its JSON manifest.

A capture of fabric ``NAME`` into ``DIR`` writes ``DIR/NAME/*.png`` (the
``folder`` layout ``station train --layout folder`` reads: one folder of good
images per fabric class) and ``DIR/NAME/manifest.json`` beside them. Each
capture appends one record to the manifest's ``captures`` list and names its
strips ``NAME_cNNN_SSSSS.png`` with a capture number no file in the folder
uses yet, so a second capture of the same fabric adds strips and never
overwrites one. The manifest is written atomically (a temporary file renamed
over the old one), so a crash or Ctrl-C leaves the previous or the new one.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from training.public import ConfigError, CrasStationError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "cras-station capture manifest"
MANIFEST_VERSION = 1

_FABRIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CaptureOutputError(CrasStationError):
    """The capture's output folder or manifest cannot be used."""


def check_fabric_name(name: str) -> str:
    """The fabric name, if it can be a class folder and a file-name prefix.

    Raises:
        ConfigError: it is empty, too long or has other characters than letters, digits,
            ``_``, ``.`` and ``-`` (or starts with one of the last three).
    """
    if not _FABRIC_NAME.match(name):
        shown = name if name.isprintable() else name.encode("unicode_escape").decode("ascii")
        raise ConfigError(
            f"--fabric {shown!r} is not a usable fabric name",
            hint="use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit "
            "(it becomes the class folder and the class name of the trained model)",
        )
    return name


def prepare_fabric_folder(out_dir: Path, fabric: str) -> Path:
    """Create (or reuse) ``out_dir/fabric`` and check that it can be written.

    Raises:
        CaptureOutputError: ``out_dir`` or the fabric folder is a file, or cannot be
            created or written.
    """
    folder = out_dir / fabric
    for path, what in ((out_dir, "--out"), (folder, "the fabric folder")):
        if path.exists() and not path.is_dir():
            raise CaptureOutputError(
                f"{what} {path} is a file, not a folder",
                hint="give --out a folder (new or one holding earlier captures)",
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CaptureOutputError(
            f"cannot create {folder}: {error.strerror or error}",
            hint="choose an --out folder you can write to",
        ) from None
    probe = folder / ".capture-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise CaptureOutputError(
            f"{folder} is not writable: {error.strerror or error}",
            hint="choose an --out folder you can write to",
        ) from None
    return folder


def read_manifest(folder: Path, fabric: str) -> dict[str, Any]:
    """The folder's manifest, or a new empty one where there is none yet.

    Raises:
        CaptureOutputError: the manifest exists but is not a capture manifest of ``fabric``.
    """
    path = folder / MANIFEST_FILE
    if not path.exists():
        return {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "fabric": fabric,
            "layout": "folder",
            "strips_total": 0,
            "metres_kept_total": 0.0,
            "captures": [],
        }
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CaptureOutputError(
            f"cannot read the manifest {path}: {error}",
            hint="restore it, or capture into a new --out folder",
        ) from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not isinstance(manifest.get("captures"), list)
    ):
        raise CaptureOutputError(
            f"{path} is not a capture manifest", hint="capture into a new --out folder"
        )
    if manifest.get("fabric") != fabric:
        raise CaptureOutputError(
            f"{path} belongs to fabric {manifest.get('fabric')!s}, not {fabric}",
            hint="capture into a new --out folder",
        )
    return manifest


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest atomically (totals recomputed from its captures)."""
    captures = manifest["captures"]
    manifest["strips_total"] = sum(c["strips_written"] for c in captures)
    manifest["metres_kept_total"] = round(sum(c["metres_kept"] for c in captures), 4)
    path = folder / MANIFEST_FILE
    temporary = path.with_name(f".{MANIFEST_FILE}.tmp")
    temporary.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def next_capture_number(folder: Path, fabric: str, manifest: dict[str, Any]) -> int:
    """A capture number above the manifest's and unused by any file in the folder."""
    number = 1 + max((int(c.get("capture", 0)) for c in manifest["captures"]), default=0)
    while any(folder.glob(f"{glob_escape(fabric)}_c{number:03d}_*")):
        number += 1
    return number


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def strip_file_name(fabric: str, capture: int, strip: int) -> str:
    """``NAME_cNNN_SSSSS.png``: sorts by capture, then by position along the roll."""
    return f"{fabric}_c{capture:03d}_{strip:05d}.png"


def save_strip(path: Path, pixels: np.ndarray) -> None:
    """Write uint8 [H, W] or [H, W, 3] as PNG to a new file (never over an existing one).

    Raises:
        CaptureOutputError: the file exists already, or the disk refused it.
    """
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    try:
        with open(path, "xb") as file:
            file.write(buffer.getvalue())
    except FileExistsError:
        raise CaptureOutputError(
            f"{path} exists already; a capture never overwrites a strip",
            hint="capture into a new --out folder",
        ) from None
    except OSError as error:
        raise CaptureOutputError(
            f"cannot write {path}: {error.strerror or error}",
            hint="free disk space or choose another --out folder",
        ) from None
