"""Loading a GenTL producer (.cti) with harvesters and finding a device in it.

Quirks handled here (harvesters 1.4 with GenTL producers such as viky.cti):

* A producer can be opened by only one ``Harvester`` per process: a second one
  loads it without error but sees no devices. We refuse the second opening with
  a clear error instead of a confusing "camera not found".
* ``Harvester.update()`` destroys every acquirer made from that harvester, so
  each :class:`GenTLProducer` serves one camera at a time.
* Some producers raise ``NotAvailableException`` when asked for optional device
  information (viky.cti: ``user_defined_name``); such fields read as None.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Self

from station.acquisition.errors import CameraError, CameraNotFoundError, ProducerError

if TYPE_CHECKING:
    from harvesters.core import DeviceInfo, Harvester, ImageAcquirer

logger = logging.getLogger(__name__)

_open_lock = threading.Lock()
_open_producers: set[Path] = set()


@dataclass(frozen=True)
class DeviceDescription:
    """What a producer tells about one device (None where it does not say)."""

    id: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    user_defined_name: str | None
    tl_type: str | None
    display_name: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)

    def matches(self, key: str) -> bool:
        """True when ``key`` equals this device's id, serial number or user-defined name."""
        return key in (self.id, self.serial_number, self.user_defined_name)


def _info_field(info: DeviceInfo, name: str) -> str | None:
    try:
        value = getattr(info, name)
    except Exception:  # genicam raises NotAvailableException for unsupported fields
        return None
    return None if value is None else str(value)


def import_harvesters_core() -> ModuleType:
    """``harvesters.core``, with a clear error where the ``camera`` extra is not installed.

    Raises:
        ProducerError: harvesters is not installed.
    """
    try:
        import harvesters.core
    except ImportError:
        raise ProducerError(
            "a GenICam camera needs the `harvesters` package, which is not installed",
            hint="pip install 'cras-station[camera]' (harvesters and genicam), or use a "
            "replay or synthetic source",
        ) from None
    return harvesters.core


def describe_device(info: DeviceInfo) -> DeviceDescription:
    """Read a harvesters ``DeviceInfo`` into a :class:`DeviceDescription`."""
    return DeviceDescription(
        id=_info_field(info, "id_"),
        vendor=_info_field(info, "vendor"),
        model=_info_field(info, "model"),
        serial_number=_info_field(info, "serial_number"),
        user_defined_name=_info_field(info, "user_defined_name"),
        tl_type=_info_field(info, "tl_type"),
        display_name=_info_field(info, "display_name"),
    )


class GenTLProducer:
    """One loaded GenTL producer; a context manager that releases it on exit.

    Args:
        cti_path: The producer's .cti file.
        field: Config field named in error messages.

    Raises:
        ProducerError: the file is missing, cannot be loaded, or is already open in
            this process.
    """

    def __init__(self, cti_path: str | Path, *, field: str = "camera.cti_path") -> None:
        self.cti_path = Path(cti_path).resolve()
        self._field = field
        if not self.cti_path.is_file():
            raise ProducerError(
                f"{field}: GenTL producer file {cti_path} does not exist",
                hint="install the camera vendor's GenTL producer and point to its .cti file",
            )
        with _open_lock:
            if self.cti_path in _open_producers:
                raise ProducerError(
                    f"{field}: GenTL producer {self.cti_path} is already open in this process",
                    hint="a producer can serve one source at a time per process; stop the "
                    "other source (or run `station camera` while the station is stopped)",
                )
            _open_producers.add(self.cti_path)
        try:
            self.harvester = self._load()
        except BaseException:
            self._forget()
            raise

    def _load(self) -> Harvester:
        harvester = import_harvesters_core().Harvester()
        try:
            harvester.add_file(str(self.cti_path), check_existence=True, check_validity=True)
        except Exception as error:
            harvester.reset()
            raise ProducerError(
                f"{self._field}: cannot load GenTL producer {self.cti_path}: {error}",
                hint="the file must be a GenTL producer (.cti) built for this OS and CPU",
            ) from None
        harvester.update()
        return harvester

    def _forget(self) -> None:
        with _open_lock:
            _open_producers.discard(self.cti_path)

    def refresh(self) -> list[DeviceDescription]:
        """Re-enumerate devices (destroys acquirers made from this producer)."""
        harvester = getattr(self, "harvester", None)
        if harvester is None:
            return []
        harvester.update()
        return self.devices()

    def devices(self) -> list[DeviceDescription]:
        """The devices the producer offered at the last :meth:`refresh`."""
        return [describe_device(info) for info in self.harvester.device_info_list]

    def find(self, key: str | None, *, field: str = "camera.device") -> int:
        """Index of the device whose id, serial number or user-defined name is ``key``.

        ``key=None`` picks the only device.

        Raises:
            CameraNotFoundError: no such device, no device at all, or ``key`` is ambiguous.
        """
        devices = self.devices()
        listing = "; ".join(f"id {d.id!r} (serial {d.serial_number!r})" for d in devices)
        fix = f"set {field} to one of the ids or serial numbers (`station camera list "
        fix += f"--cti {self.cti_path}` lists them)"
        if not devices:
            raise CameraNotFoundError(
                f"{field}: the producer {self.cti_path} offers no devices",
                hint="check the camera's power and cable (and the network settings of a "
                "GigE camera), then run `station camera list`",
            )
        if key is None:
            if len(devices) == 1:
                return 0
            raise CameraNotFoundError(
                f"{field}: not set, and the producer offers {len(devices)} devices: {listing}",
                hint=fix,
            )
        matches = [index for index, device in enumerate(devices) if device.matches(key)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise CameraNotFoundError(
                f"{field}: no device {key!r} among the {len(devices)} devices the producer "
                f"offers: {listing}",
                hint=fix,
            )
        raise CameraNotFoundError(
            f"{field}: {key!r} matches {len(matches)} devices: {listing}",
            hint="use the device id, which is unique",
        )

    def open_device(self, key: str | None, *, field: str = "camera.device") -> ImageAcquirer:
        """Open the device named by ``key`` (see :meth:`find`) and return its acquirer.

        Raises:
            CameraNotFoundError: see :meth:`find`.
            CameraError: the device exists but cannot be opened (e.g. in use elsewhere).
        """
        index = self.find(key, field=field)
        try:
            return self.harvester.create(index)
        except Exception as error:
            raise CameraError(
                f"{field}: cannot open device {key or index!r}: {error}",
                hint="close other programs using the camera (vendor viewer, another "
                "station) and try again",
            ) from None

    def close(self) -> None:
        """Destroy every acquirer and unload the producer; never raises."""
        harvester = getattr(self, "harvester", None)
        if harvester is not None:
            try:
                harvester.reset()
            except Exception:
                logger.exception("releasing GenTL producer %s failed", self.cti_path)
            self.harvester = None  # type: ignore[assignment]
        self._forget()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
