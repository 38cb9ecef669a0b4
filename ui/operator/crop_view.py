"""A clicked defect's crop and heatmap, read from the image store, or a message why not."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from station.store.images import ImageStore
from station.store.views import DefectView
from ui.operator.session import message_of

IMAGE_SIDE_PX = 128


class CropView(QGroupBox):
    """Shows one defect: crop, heatmap and a line of facts.

    Args:
        parent: Qt parent.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Selected defect", parent)
        layout = QVBoxLayout(self)
        images = QHBoxLayout()
        self.crop = QLabel()
        self.heatmap = QLabel()
        for image in (self.crop, self.heatmap):
            image.setFixedSize(IMAGE_SIDE_PX, IMAGE_SIDE_PX)
            image.setAlignment(Qt.AlignmentFlag.AlignCenter)
            image.setStyleSheet("background: #303030; color: #eeeeee;")
        # No word wrap: wrapped labels under-report their height and would overlap the images.
        self.facts = QLabel("Click a mark on the roll map.")
        self.message = QLabel()
        self.message.setWordWrap(True)  # errors can be long; it sits last, nothing below it
        self.message.setMinimumHeight(3 * self.message.fontMetrics().lineSpacing())
        self.message.setStyleSheet("color: #c62828;")
        images.addWidget(self.crop)
        images.addWidget(self.heatmap)
        images.addStretch(1)
        layout.addLayout(images)
        layout.addWidget(self.facts)
        layout.addWidget(self.message)

    def show_defect(
        self,
        *,
        facts: str,
        view: DefectView | None,
        images: ImageStore | None,
        fallback: tuple[bytes | None, bytes | None] = (None, None),
    ) -> None:
        """Show a defect's images from the store (``view``), else the pipeline's own copies.

        Args:
            facts: One line about the defect.
            view: Its row in the store, when the store has it.
            images: The image store to read from.
            fallback: Crop and heatmap PNGs the pipeline sent with the defect, if kept.
        """
        self.facts.setText(facts)
        problems: list[str] = []
        crop, heatmap = fallback
        if view is not None and images is not None:
            crop = self._read(images, view.crop_path, view.crop_sha256, "crop", problems) or crop
            heatmap = (
                self._read(images, view.heatmap_path, view.heatmap_sha256, "heatmap", problems)
                or heatmap
            )
        elif view is None:
            problems.append("not in the database yet; showing the station's own copy")
        self._put(self.crop, crop, "no crop", problems)
        self._put(self.heatmap, heatmap, "no heatmap", problems)
        self.message.setText("\n".join(problems))

    @staticmethod
    def _read(
        images: ImageStore,
        path: str | None,
        sha256: str | None,
        what: str,
        problems: list[str],
    ) -> bytes | None:
        if path is None:
            problems.append(f"the {what} was not stored (image store full or images off)")
            return None
        try:
            return images.read(path, expected_sha256=sha256)
        except Exception as error:
            problems.append(f"{what}: {message_of(error)}")
            return None

    @staticmethod
    def _put(label: QLabel, data: bytes | None, empty: str, problems: list[str]) -> None:
        pixmap = QPixmap()
        if data is not None and not pixmap.loadFromData(data, "PNG"):
            problems.append(f"{empty.removeprefix('no ')}: the file is not a readable PNG image")
            data = None
        if data is None:
            label.clear()
            label.setText(empty)
            return
        label.setPixmap(
            pixmap.scaled(
                IMAGE_SIDE_PX,
                IMAGE_SIDE_PX,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
