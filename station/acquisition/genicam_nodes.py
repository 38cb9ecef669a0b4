"""Applying configured settings to a GenICam node map and reading its features back.

Cameras differ in which nodes they have: a line-scan camera has
``AcquisitionLineRate`` and ``TriggerSelector=LineStart``, an area camera (or
the virtual viky.cti) has neither. A setting whose node is absent or not
writable is *reported* (:class:`SettingResult` with ``applied=False``); a value
the camera rejects is an error naming the config field and what the camera
accepts.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from station.acquisition.config import CameraConfig, SettingValue
from station.acquisition.errors import CameraSettingError

logger = logging.getLogger(__name__)

# genicam.genapi.EInterfaceType values, spelled out to keep genicam an optional import.
_INTEGER, _BOOLEAN, _COMMAND, _FLOAT, _STRING, _ENUMERATION = 2, 3, 4, 5, 6, 9
_READABLE_KINDS = {_INTEGER, _BOOLEAN, _FLOAT, _STRING, _ENUMERATION}
# genicam.genapi.EAccessMode: WO = 2, RO = 3, RW = 4.
_WRITABLE_MODES = {2, 4}
_READABLE_MODES = {3, 4}


@dataclass(frozen=True)
class SettingResult:
    """What happened to one configured setting.

    Attributes:
        field: The config field it came from, e.g. ``camera.width_px``.
        node: The GenICam node written.
        requested: The value asked for.
        applied: True when the camera accepted it.
        actual: The node's value read back afterwards (None if unreadable or absent).
        note: Why it was not applied, or how the value was derived.
    """

    field: str
    node: str
    requested: SettingValue
    applied: bool
    actual: Any = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def _node_or_none(node_map: Any, name: str) -> Any:
    try:
        return node_map.get_node(name)
    except Exception:  # genicam raises LogicalErrorException("Node not existing")
        return None


def _kind(node: Any) -> int:
    return int(node.node.principal_interface_type)


def _access(node: Any) -> int:
    return int(node.node.get_access_mode())


def read_node(node: Any) -> Any:
    """A node's value as a plain Python value, or None where it cannot be read now."""
    try:
        if _access(node) not in _READABLE_MODES or _kind(node) not in _READABLE_KINDS:
            return None
        value = node.value
    except Exception:
        return None
    if _kind(node) == _BOOLEAN:
        return bool(value)
    return value


def _accepted_values(node: Any) -> str:
    """What the node accepts, for error messages."""
    try:
        if _kind(node) == _ENUMERATION:
            return "one of " + ", ".join(str(s) for s in node.symbolics)
        if _kind(node) in (_INTEGER, _FLOAT):
            text = f"a value from {node.min} to {node.max}"
            increment = getattr(node, "inc", None) if _kind(node) == _INTEGER else None
            return text + (f" in steps of {increment}" if increment not in (None, 1) else "")
    except Exception:
        pass
    return "a value the camera accepts (see its manual)"


def _write_node(node: Any, value: SettingValue) -> None:
    kind = _kind(node)
    if kind == _INTEGER:
        node.value = int(value)
    elif kind == _FLOAT:
        node.value = float(value)
    elif kind == _BOOLEAN:
        node.value = bool(value)
    elif kind in (_ENUMERATION, _STRING):
        node.value = str(value)
    elif kind == _COMMAND:
        if value:
            node.execute()
    else:
        raise TypeError(f"node kind {kind} cannot be set from a configuration value")


def apply_setting(
    node_map: Any, *, field: str, node_name: str, value: SettingValue
) -> SettingResult:
    """Write one node if the camera has it and it is writable; report otherwise.

    Raises:
        CameraSettingError: the node exists and is writable but rejects ``value``.
    """
    node = _node_or_none(node_map, node_name)
    if node is None:
        return SettingResult(
            field, node_name, value, False, None, "node not present on this camera"
        )
    if _access(node) not in _WRITABLE_MODES:
        return SettingResult(
            field, node_name, value, False, read_node(node), "node not writable now"
        )
    try:
        _write_node(node, value)
    except Exception as error:
        raise CameraSettingError(
            f"{field}: the camera rejected {node_name} = {value!r}: {error}",
            hint=f"set {field} to {_accepted_values(node)}",
        ) from None
    return SettingResult(field, node_name, value, True, read_node(node))


def _enable_if_present(node_map: Any, node_name: str) -> None:
    """Some cameras ignore a rate until its ...Enable node is True; set it where it exists."""
    node = _node_or_none(node_map, node_name)
    if node is not None and _access(node) in _WRITABLE_MODES:
        try:
            node.value = True
        except Exception:
            logger.debug("could not set %s", node_name, exc_info=True)


def _check_pixel_format_offered(node_map: Any, pixel_format: str) -> None:
    node = _node_or_none(node_map, "PixelFormat")
    if node is None:
        return
    try:
        offered = [str(s) for s in node.symbolics]
    except Exception:
        return
    if pixel_format not in offered:
        raise CameraSettingError(
            f"camera.pixel_format: the camera does not offer {pixel_format!r}",
            hint="set camera.pixel_format to one it offers: " + ", ".join(offered),
        )


def _apply_line_rate(node_map: Any, config: CameraConfig) -> list[SettingResult]:
    assert config.line_rate_hz is not None
    field = "camera.line_rate_hz"
    if _node_or_none(node_map, "AcquisitionLineRate") is not None:
        _enable_if_present(node_map, "AcquisitionLineRateEnable")
        return [
            apply_setting(
                node_map, field=field, node_name="AcquisitionLineRate", value=config.line_rate_hz
            )
        ]
    missing = SettingResult(
        field,
        "AcquisitionLineRate",
        config.line_rate_hz,
        False,
        None,
        "node not present on this camera",
    )
    # An area camera delivers lines_per_frame lines per frame, so its frame rate sets
    # the line rate; this is also how the virtual viky.cti camera is paced.
    height = (
        read_node(_node_or_none(node_map, "Height")) if config.lines_per_frame is None else None
    )
    lines = config.lines_per_frame or height
    if _node_or_none(node_map, "AcquisitionFrameRate") is None or not lines:
        return [missing]
    _enable_if_present(node_map, "AcquisitionFrameRateEnable")
    derived = apply_setting(
        node_map,
        field=field,
        node_name="AcquisitionFrameRate",
        value=config.line_rate_hz / float(lines),
    )
    note = f"derived: line_rate_hz / {lines} lines per frame"
    return [missing, SettingResult(**{**derived.as_dict(), "note": note})]


def apply_camera_settings(node_map: Any, config: CameraConfig) -> list[SettingResult]:
    """Apply every configured camera setting, in a safe order, and report each one.

    Order: PixelFormat (it limits Width), Width, Height, line rate, trigger, then
    ``config.settings`` in their given order.

    Returns:
        One :class:`SettingResult` per node written or skipped.

    Raises:
        CameraSettingError: a value was rejected, or the pixel format is not offered.
    """
    results: list[SettingResult] = []
    if config.pixel_format is not None:
        _check_pixel_format_offered(node_map, config.pixel_format)
        results.append(
            apply_setting(
                node_map,
                field="camera.pixel_format",
                node_name="PixelFormat",
                value=config.pixel_format,
            )
        )
    if config.width_px is not None:
        results.append(
            apply_setting(
                node_map, field="camera.width_px", node_name="Width", value=config.width_px
            )
        )
    if config.lines_per_frame is not None:
        results.append(
            apply_setting(
                node_map,
                field="camera.lines_per_frame",
                node_name="Height",
                value=config.lines_per_frame,
            )
        )
    if config.line_rate_hz is not None:
        results.extend(_apply_line_rate(node_map, config))
    if config.trigger_source is not None:
        for node_name, value in (
            ("TriggerSelector", "LineStart"),
            ("TriggerMode", "On"),
            ("TriggerSource", config.trigger_source),
        ):
            results.append(
                apply_setting(
                    node_map, field="camera.trigger_source", node_name=node_name, value=value
                )
            )
    for node_name, value in config.settings.items():
        results.append(
            apply_setting(
                node_map, field=f"camera.settings.{node_name}", node_name=node_name, value=value
            )
        )
    return results


def read_features(node_map: Any) -> dict[str, Any]:
    """Every feature of the node map that can be read now, as ``{name: value}``.

    Categories, commands, registers and nodes that are not available are left out.
    """
    features: dict[str, Any] = {}
    for node in node_map.nodes:
        try:
            if not node.node.is_feature():
                continue
            name = str(node.node.name)
        except Exception:
            continue
        value = read_node(node)
        if value is not None:
            features[name] = value
    return features
