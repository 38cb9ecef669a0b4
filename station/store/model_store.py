"""A folder of published models, kept by content and checked every time one is loaded.

Recipes name a model by its hash (``ModelMetadata.model_hash``: the SHA-256 of
``model.safetensors``). Publishing copies the model folder's files --
``model.safetensors``, the JSON files (``model.json``, parity reports, metrics)
and any ``.onnx`` or ``.engine`` export -- into the store::

    MODEL_STORE/<model hash>/model.safetensors, model.json, model.onnx, ...
    MODEL_STORE/<model hash>/manifest.json   {"model_hash": ..., "files": {name: sha256}}

A stored copy is never edited in place: files are written under a temporary
name and renamed, and a later publish of the same model only adds exports the
copy does not hold yet. :meth:`ModelStore.load` hashes every file again and
refuses a corrupt or mismatched copy with one message, so a station never runs
a model that is not the one its recipe names.

The store is a local (or mounted) folder; an object-store URL (S3 and the like)
is not supported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from station.store.errors import StoreError
from training.public import CrasStationError, read_metadata

MANIFEST_FILE = "manifest.json"
TENSORS_FILE = "model.safetensors"
METADATA_FILE = "model.json"
PUBLISHED_SUFFIXES = (".safetensors", ".json", ".onnx", ".engine")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_CHUNK_BYTES = 1 << 20
# Stations often run as another user than the engineer who publishes: stored models are readable.
_FOLDER_MODE = 0o755
_FILE_MODE = 0o644


class ModelStoreError(StoreError):
    """A model cannot be published to or loaded from the model store."""


class ModelNotInStoreError(ModelStoreError):
    """The model store holds no copy of the model asked for."""


class CorruptModelError(ModelStoreError):
    """A stored model file is missing or its bytes differ from its recorded SHA-256."""


class ModelHashMismatchError(ModelStoreError):
    """A model folder is not the model its hash says (mixed or replaced files)."""


@dataclass(frozen=True, slots=True)
class StoredModel:
    """A verified model in the store.

    Attributes:
        model_hash: SHA-256 of its ``model.safetensors`` (the model's identity).
        path: The stored model folder (open it like any model folder).
        files: File name -> SHA-256 of every stored file.
    """

    model_hash: str
    path: Path
    files: dict[str, str]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (engines can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def check_model_folder(model_dir: Path) -> str:
    """Check that a model folder's tensors are the ones its ``model.json`` names.

    Returns:
        The model hash.

    Raises:
        ModelFileError: no model folder, or an unreadable ``model.json``.
        ModelHashMismatchError: ``model.safetensors`` is missing or differs from its hash.
    """
    metadata = read_metadata(model_dir)
    tensors = model_dir / TENSORS_FILE
    if not tensors.is_file() or sha256_of(tensors) != metadata.model_hash:
        raise ModelHashMismatchError(
            f"{tensors} does not match the model hash {metadata.model_hash[:12]} in "
            f"{METADATA_FILE} (missing, corrupt or from another model)",
            hint="copy the whole model folder again, or re-train it",
        )
    return metadata.model_hash


def _publishable_files(model_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in model_dir.iterdir()
        if path.is_file() and path.suffix in PUBLISHED_SUFFIXES and path.name != MANIFEST_FILE
    )


def _write_json_atomically(path: Path, data: object) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    os.chmod(temporary, _FILE_MODE)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def _copy_atomically(source: Path, target: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, _FILE_MODE)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ModelStore:
    """Published models under one folder (see the module docstring).

    Args:
        root: The model store folder (created on the first publish).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def folder_of(self, model_hash: str) -> Path:
        """Where the model with this hash is (or would be) stored."""
        if not _HASH.match(model_hash or ""):
            raise ModelStoreError(
                f"{model_hash!r} is not a model hash (64 hexadecimal digits)",
                hint="use the model hash `station recipe show` prints",
            )
        return self.root / model_hash

    def publish(self, model_dir: str | Path) -> StoredModel:
        """Copy a model folder into the store (or check and extend the copy already there).

        Raises:
            ModelFileError: ``model_dir`` is not a readable model folder.
            ModelHashMismatchError: its tensors do not match its ``model.json``.
            ModelStoreError: the stored copy holds a file of the same name with other
                content (e.g. an engine rebuilt since), or the store cannot be written.
            CorruptModelError: the copy already in the store is corrupt.
        """
        model_dir = Path(model_dir)
        model_hash = check_model_folder(model_dir)
        sources = {path.name: (path, sha256_of(path)) for path in _publishable_files(model_dir)}
        target = self.folder_of(model_hash)
        try:
            if target.is_dir():
                return self._extend(target, model_hash, sources)
            self.root.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(dir=self.root, prefix=f".publish-{model_hash[:12]}-"))
            try:
                os.chmod(scratch, _FOLDER_MODE)
                for name, (path, _digest) in sources.items():
                    _copy_atomically(path, scratch / name)
                files = {name: digest for name, (_path, digest) in sources.items()}
                _write_json_atomically(
                    scratch / MANIFEST_FILE, {"model_hash": model_hash, "files": files}
                )
                os.rename(scratch, target)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
        except OSError as error:
            if target.is_dir():  # another publish of the same model won the rename
                return self.load(model_hash)
            raise ModelStoreError(
                f"cannot write the model store {self.root}: {error.strerror or error}",
                hint="check that the folder exists, is writable and has free space "
                "(recipes.model_store in the station config)",
            ) from None
        return self.load(model_hash)

    def _extend(
        self, target: Path, model_hash: str, sources: dict[str, tuple[Path, str]]
    ) -> StoredModel:
        stored = self.load(model_hash)
        files = dict(stored.files)
        for name, (path, digest) in sources.items():
            if name in files and files[name] != digest:
                raise ModelStoreError(
                    f"the model store already holds {name} for model {model_hash[:12]} with "
                    "other content (an export rebuilt since it was published?)",
                    hint=f"publish from a copy of the model folder without {name}, or remove "
                    f"the stored folder {target} if no recipe uses it",
                )
            if name not in files:
                _copy_atomically(path, target / name)
                files[name] = digest
        if files != stored.files:
            _write_json_atomically(
                target / MANIFEST_FILE, {"model_hash": model_hash, "files": files}
            )
        return self.load(model_hash)

    def load(self, model_hash: str) -> StoredModel:
        """The stored model with this hash, after hashing every one of its files again.

        Raises:
            ModelNotInStoreError: the store has no such model.
            CorruptModelError: a file is missing or differs from its recorded SHA-256,
                or the manifest is unreadable.
            ModelHashMismatchError: the stored tensors or ``model.json`` are of another model.
        """
        folder = self.folder_of(model_hash)
        short = model_hash[:12]
        republish = "publish the model again (`station recipe publish MODEL_DIR ...`)"
        if not folder.is_dir():
            raise ModelNotInStoreError(
                f"the model store {self.root} has no model {short}",
                hint=f"check recipes.model_store in the station config, or {republish}",
            )
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
            files = {str(name): str(digest) for name, digest in manifest["files"].items()}
            recorded_hash = str(manifest["model_hash"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise CorruptModelError(
                f"the stored model {short} in {self.root} has no readable {MANIFEST_FILE}",
                hint=f"remove the folder {folder} and {republish}",
            ) from None
        for name, digest in sorted(files.items()):
            path = folder / name
            if not path.is_file() or sha256_of(path) != digest:
                state = "is missing" if not path.is_file() else "does not match its SHA-256"
                raise CorruptModelError(
                    f"the stored model {short} is corrupt: {name} {state}",
                    hint=f"remove the folder {folder} and {republish}",
                )
        if (
            recorded_hash != model_hash
            or files.get(TENSORS_FILE) != model_hash
            or METADATA_FILE not in files
        ):
            raise ModelHashMismatchError(
                f"the model store folder {folder.name[:12]} holds model "
                f"{files.get(TENSORS_FILE, 'none')[:12]}, not {short}",
                hint=f"remove the folder {folder} and {republish}",
            )
        try:
            check_model_folder(folder)  # model.json names these tensors
        except ModelHashMismatchError:
            raise
        except CrasStationError as error:  # model.json unreadable by this code
            raise CorruptModelError(
                f"the stored model {short} cannot be read: {error.message}",
                hint=f"update the station software, or remove the folder {folder} and {republish}",
            ) from None
        return StoredModel(model_hash=model_hash, path=folder, files=files)
