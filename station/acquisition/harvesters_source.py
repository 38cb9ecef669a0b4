"""Line blocks from a GenICam camera through any GenTL producer, using harvesters.

A background thread fetches buffers with a short timeout (so :meth:`stop`
is always quick), copies the pixels out, hands the buffer straight back to
the driver, converts the copy to grey or RGB and queues it. Incomplete
buffers and stalls are counted and reported; when the camera disappears the
source reports it and reconnects with backoff, and when that fails ``read``
raises :class:`~station.acquisition.errors.CameraGoneError`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from station.acquisition.base import EventCallback, LineSource
from station.acquisition.config import CameraConfig
from station.acquisition.errors import (
    CameraError,
    CameraGoneError,
    FrameFormatError,
    UnsupportedPixelFormatError,
)
from station.acquisition.genicam_nodes import (
    SettingResult,
    apply_camera_settings,
    read_features,
    read_node,
)
from station.acquisition.lines import Lines, Severity, SourceEventKind
from station.acquisition.pixel_formats import (
    PIXEL_FORMATS,
    SUPPORTED_PIXEL_FORMATS,
    convert_pixels,
)
from station.acquisition.producer import (
    DeviceDescription,
    GenTLProducer,
    import_harvesters_core,
)

if TYPE_CHECKING:
    from harvesters.core import Buffer, ImageAcquirer

logger = logging.getLogger(__name__)

# Longest a single driver fetch may block; bounds how long stop() waits for the thread.
FETCH_POLL_S = 0.1


class _RawFrame:
    """Pixels copied out of a driver buffer, before conversion."""

    __slots__ = ("encoder_count", "height", "pixel_format", "values", "width")

    def __init__(
        self,
        values: np.ndarray,
        pixel_format: str,
        width: int,
        height: int,
        encoder_count: float | None,
    ) -> None:
        self.values = values
        self.pixel_format = pixel_format
        self.width = width
        self.height = height
        self.encoder_count = encoder_count


class HarvestersSource(LineSource):
    """Line blocks from a camera reached through a GenTL producer (.cti).

    Args:
        config: Camera configuration; its settings are applied at :meth:`start` and
            again after every reconnection.
        on_event: Called for every event (from :meth:`start` and the acquisition thread).
        name: Shown in events and logs; defaults to ``camera <device>``.

    Raises (from :meth:`start`):
        ProducerError: the .cti is missing, not loadable or already open in this process.
        CameraNotFoundError: the configured device is not offered (lists those that are).
        CameraSettingError: the camera rejected a configured value.
        UnsupportedPixelFormatError: the camera delivers a format the station cannot convert.
    """

    def __init__(
        self,
        config: CameraConfig,
        *,
        on_event: EventCallback | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            name=name or f"camera {config.device or '(only device)'}",
            queue_blocks=config.queue_blocks,
            on_event=on_event,
        )
        self.config = config
        self.settings_report: list[SettingResult] = []
        self.features: dict[str, Any] = {}
        self.device: DeviceDescription | None = None
        self._producer: GenTLProducer | None = None
        self._acquirer: ImageAcquirer | None = None
        self._next_line = 0
        self._last_frame_lines = 0
        self._encoder_warned = False

    @property
    def acquirer(self) -> ImageAcquirer | None:
        """The live harvesters acquirer (for diagnostics and fault-injection tests), or None."""
        return self._acquirer

    # -- connection ----------------------------------------------------------------------

    def _open(self) -> None:
        self._next_line = 0
        self._producer = GenTLProducer(self.config.cti_path)
        try:
            self._connect()
        except BaseException:
            self._close()
            raise
        for result in self.settings_report:
            if not result.applied:
                self._emit(
                    SourceEventKind.SETTING_NOT_APPLIED,
                    Severity.WARNING,
                    f"{self.name}: {result.field} not applied to {result.node}: {result.note}",
                    **result.as_dict(),
                )

    def _connect(self) -> None:
        """Find and open the device, apply the settings and start streaming."""
        assert self._producer is not None
        index = self._producer.find(self.config.device)
        self.device = self._producer.devices()[index]
        acquirer = self._producer.open_device(self.config.device)
        try:
            acquirer.num_buffers = self.config.num_buffers
            node_map = acquirer.remote_device.node_map
            self.settings_report = apply_camera_settings(node_map, self.config)
            self._check_delivered_format(node_map)
            self.features = read_features(node_map)
            self._watch_incomplete_buffers(acquirer)
            acquirer.start()
        except BaseException:
            _destroy_quietly(acquirer)
            raise
        self._acquirer = acquirer

    def _check_delivered_format(self, node_map: Any) -> None:
        try:
            delivered = read_node(node_map.get_node("PixelFormat"))
        except Exception:
            return  # no PixelFormat node: each buffer names its own format
        if delivered is None or delivered in PIXEL_FORMATS:
            return
        try:
            offered = [str(s) for s in node_map.get_node("PixelFormat").symbolics]
        except Exception:
            offered = []
        usable = [name for name in offered if name in PIXEL_FORMATS]
        raise UnsupportedPixelFormatError(
            f"camera.pixel_format: the camera delivers {delivered!r}, which the station "
            "cannot convert to grey or RGB",
            hint="set camera.pixel_format to "
            + (
                "one the camera offers: " + ", ".join(usable)
                if usable
                else "a supported format: " + ", ".join(SUPPORTED_PIXEL_FORMATS)
            ),
        )

    def _watch_incomplete_buffers(self, acquirer: ImageAcquirer) -> None:
        harvesters_core = import_harvesters_core()
        source = self

        class _OnIncomplete(harvesters_core.Callback):
            def emit(self, context: object | None = None) -> None:
                source._on_incomplete_buffer()

        acquirer.add_callback(
            harvesters_core.ImageAcquirer.Events.INCOMPLETE_BUFFER, _OnIncomplete()
        )

    def _on_incomplete_buffer(self) -> None:
        # harvesters already requeued the buffer; the fabric moved on, so skip its lines.
        lost = self.config.lines_per_frame or self._last_frame_lines
        self._count(incomplete=1)
        self._emit(
            SourceEventKind.INCOMPLETE_FRAME,
            Severity.FAULT,
            f"{self.name}: incomplete frame discarded at line {self._next_line}",
            first_line=self._next_line,
            num_lines=lost,
        )
        self._next_line += lost

    def _release_acquirer(self) -> None:
        acquirer, self._acquirer = self._acquirer, None
        if acquirer is not None:
            _destroy_quietly(acquirer)

    def _close(self) -> None:
        self._release_acquirer()
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    # -- acquisition thread --------------------------------------------------------------

    def _produce(self) -> None:
        poll_s = min(FETCH_POLL_S, self.config.frame_timeout_s)
        last_frame_at = time.monotonic()
        while not self._stop_requested.is_set():
            try:
                frame = self._fetch_one(poll_s)
            except Exception as error:
                if self._stop_requested.is_set():
                    break
                if not self._reconnect(error):
                    return
                last_frame_at = time.monotonic()
                continue
            now = time.monotonic()
            if frame is None:
                if now - last_frame_at >= self.config.frame_timeout_s:
                    self._count(timeouts=1)
                    self._emit(
                        SourceEventKind.FRAME_TIMEOUT,
                        Severity.WARNING,
                        f"{self.name}: no frame for {self.config.frame_timeout_s:.3g} s",
                        at_line=self._next_line,
                    )
                    last_frame_at = now
                continue
            last_frame_at = now
            self._deliver(frame)

    def _fetch_one(self, poll_s: float) -> _RawFrame | None:
        """Fetch one buffer, copy it out and requeue it; None when nothing came in time.

        Raises:
            Exception: anything the driver raises; the caller treats it as a lost camera.
        """
        acquirer = self._acquirer
        if acquirer is None or not acquirer.is_valid():
            raise CameraError("the image acquirer was destroyed")
        buffer = acquirer.try_fetch(timeout=poll_s)
        if buffer is None:
            if not acquirer.is_valid():
                raise CameraError("the image acquirer was destroyed while fetching")
            return None
        with buffer:  # requeues the buffer on exit, also when copying fails
            return self._copy_out(buffer, acquirer)

    def _copy_out(self, buffer: Buffer, acquirer: ImageAcquirer) -> _RawFrame | None:
        components = buffer.payload.components
        if not components:
            return None
        component = components[0]
        height = int(component.height)
        try:
            delivered = int(component.delivered_image_height)
            if 0 < delivered < height:
                height = delivered  # a line-scan camera ended a frame early
        except Exception:
            pass
        # Copy while the driver still lends us the buffer; it is reused after requeueing.
        values = np.array(component.data, copy=True)
        encoder_count = None
        if self.config.encoder_chunk_node is not None:
            encoder_count = self._read_encoder(acquirer)
        return _RawFrame(
            values, str(component.data_format), int(component.width), height, encoder_count
        )

    def _read_encoder(self, acquirer: ImageAcquirer) -> float | None:
        node_name = self.config.encoder_chunk_node
        try:
            return float(acquirer.remote_device.node_map.get_node(node_name).value)
        except Exception as error:
            if not self._encoder_warned:
                self._encoder_warned = True
                self._emit(
                    SourceEventKind.SETTING_NOT_APPLIED,
                    Severity.WARNING,
                    f"{self.name}: camera.encoder_chunk_node {node_name!r} cannot be read "
                    f"({error}); encoder_mm will be None",
                    node=node_name,
                )
            return None

    def _deliver(self, frame: _RawFrame) -> None:
        try:
            pixels = convert_pixels(
                frame.values,
                pixel_format=frame.pixel_format,
                width_px=frame.width,
                height_lines=frame.height,
                output_channels=self.config.output_channels,
            )
        except (FrameFormatError, UnsupportedPixelFormatError) as error:
            self._count(incomplete=1)
            self._emit(
                SourceEventKind.INCOMPLETE_FRAME,
                Severity.FAULT,
                f"{self.name}: unusable frame at line {self._next_line}: {error.message}",
                first_line=self._next_line,
                num_lines=frame.height,
            )
            self._next_line += frame.height
            return
        encoder_mm = None
        if frame.encoder_count is not None and self.config.mm_per_encoder_count is not None:
            encoder_mm = frame.encoder_count * self.config.mm_per_encoder_count
        block = Lines(
            pixels=pixels,
            first_line=self._next_line,
            timestamp_s=time.time(),
            encoder_mm=encoder_mm,
        )
        self._next_line += block.num_lines
        self._last_frame_lines = block.num_lines
        self._publish(block)

    def _reconnect(self, error: BaseException) -> bool:
        """Report the loss and reconnect with backoff; False when stopped or given up."""
        self._emit(
            SourceEventKind.CAMERA_LOST,
            Severity.FAULT,
            f"{self.name}: camera lost at line {self._next_line} ({error}); reconnecting",
            at_line=self._next_line,
            error=str(error),
        )
        self._release_acquirer()
        delay_s = self.config.reconnect_initial_delay_s
        last_error: BaseException = error
        for attempt in range(1, self.config.reconnect_attempts + 1):
            if self._stop_requested.wait(delay_s):
                return False
            try:
                assert self._producer is not None
                self._producer.refresh()
                self._connect()
            except Exception as attempt_error:
                last_error = attempt_error
                logger.warning("%s: reconnection %d failed: %s", self.name, attempt, attempt_error)
                delay_s = min(max(2 * delay_s, 0.05), self.config.reconnect_max_delay_s)
                continue
            self._count(reconnects=1)
            self._emit(
                SourceEventKind.CAMERA_RECONNECTED,
                Severity.INFO,
                f"{self.name}: camera reconnected after {attempt} attempt(s)",
                at_line=self._next_line,
            )
            return True
        gone = CameraGoneError(
            f"{self.name}: the camera was lost and {self.config.reconnect_attempts} reconnection "
            f"attempt(s) failed; last error: {last_error}",
            hint="check the camera's power, cable and network, then restart acquisition "
            "(camera.reconnect_attempts sets how often the station retries)",
        )
        self._emit(SourceEventKind.CAMERA_GONE, Severity.FAULT, gone.message)
        self._fail(gone)
        return False


def _destroy_quietly(acquirer: ImageAcquirer) -> None:
    try:
        acquirer.destroy()
    except Exception:
        logger.debug("destroying the image acquirer failed", exc_info=True)
