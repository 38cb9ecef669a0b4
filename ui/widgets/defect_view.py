"""A defect's crop and its anomaly heatmap side by side.

Usage::

    view = DefectImagesView()
    view.show_stored(image_store, crop_path=..., crop_sha256=..., heatmap_path=...,
                     heatmap_sha256=...)   # from the image store, hashes checked
    view.show_png(crop_bytes, heatmap_bytes)  # PNG bytes already in memory
    view.clear("no defect selected")

A missing, changed or undecodable image shows a short message in place of the
picture (what happened and what to do); the other picture still shows.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap, QResizeEvent
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from station.store.errors import ImageStoreError
from station.store.images import ImageStore

MIN_PICTURE_PX = 160


class _Picture(QWidget):
    """A caption over a picture that scales with the widget, or a message instead."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._caption = QLabel(caption)
        self._caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._caption.setStyleSheet("font-weight: bold;")
        self._picture = QLabel()
        self._picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._picture.setMinimumSize(MIN_PICTURE_PX, MIN_PICTURE_PX)
        self._picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._picture.setWordWrap(True)
        self._picture.setStyleSheet("background: #202020; color: #f0f0f0; padding: 6px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._caption)
        layout.addWidget(self._picture, 1)
        self._image: QImage | None = None
        self._message = ""

    @property
    def message(self) -> str:
        """The message shown instead of the picture ("" while a picture shows)."""
        return self._message

    @property
    def image(self) -> QImage | None:
        return self._image

    def show_image(self, image: QImage) -> None:
        self._image, self._message = image, ""
        self._rescale()

    def show_message(self, message: str) -> None:
        self._image, self._message = None, message
        self._picture.setPixmap(QPixmap())
        self._picture.setText(message)

    def _rescale(self) -> None:
        if self._image is None:
            return
        size = self._picture.size()
        pixmap = QPixmap.fromImage(self._image).scaled(
            size,
            Qt.AspectRatioMode.KeepAspectRatio,
            # Crops are small: keep the fabric's threads crisp when blowing them up.
            Qt.TransformationMode.FastTransformation,
        )
        self._picture.setText("")
        self._picture.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._rescale()


def _decode(data: bytes, what: str) -> QImage | str:
    image = QImage.fromData(data)
    if image.isNull():
        return (
            f"The {what} image cannot be decoded: the file is damaged. Re-export it or ignore it."
        )
    return image


def _load(
    images: ImageStore | None, path: str | None, sha256: str | None, what: str
) -> QImage | str:
    if path is None:
        return f"No {what} image was stored for this defect."
    if images is None:
        return f"No image folder is open: start the window with --images to see the {what}."
    try:
        data = images.read(path, expected_sha256=sha256)
    except ImageStoreError as error:
        return f"{error.message}. {error.hint}" if error.hint else error.message
    return _decode(data, what)


class DefectImagesView(QWidget):
    """Crop (left) and heatmap (right) of one defect."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.crop = _Picture("Crop")
        self.heatmap = _Picture("Heatmap")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.crop, 1)
        layout.addWidget(self.heatmap, 1)
        self.clear("No defect selected.")

    def clear(self, message: str) -> None:
        """Show ``message`` in place of both pictures."""
        self.crop.show_message(message)
        self.heatmap.show_message(message)

    def show_png(self, crop: bytes | None, heatmap: bytes | None) -> None:
        """Show PNG bytes already in memory (None: that image is not available)."""
        for picture, data, what in ((self.crop, crop, "crop"), (self.heatmap, heatmap, "heatmap")):
            result = _decode(data, what) if data is not None else f"No {what} image."
            self._apply(picture, result)

    def show_stored(
        self,
        images: ImageStore | None,
        *,
        crop_path: str | None,
        crop_sha256: str | None,
        heatmap_path: str | None,
        heatmap_sha256: str | None,
    ) -> None:
        """Read both images from the image store, checking their recorded hashes."""
        self._apply(self.crop, _load(images, crop_path, crop_sha256, "crop"))
        self._apply(self.heatmap, _load(images, heatmap_path, heatmap_sha256, "heatmap"))

    @staticmethod
    def _apply(picture: _Picture, result: QImage | str) -> None:
        if isinstance(result, QImage):
            picture.show_image(result)
        else:
            picture.show_message(result)
