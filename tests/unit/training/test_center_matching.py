"""Center matching: reference against brute force, chunked against reference, ties, per image."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from training.cras.center_matching import (
    center_match_chunked,
    center_match_reference,
    gather_centers,
    match_classes_reference,
)


def _brute_force(features: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Index of the most cosine-similar center row, one position at a time (float64)."""
    batch, rows, _ = features.shape
    centers = centers.expand(batch, -1, -1).double()
    index = torch.empty(batch, rows, dtype=torch.int64)
    for b in range(batch):
        for n in range(rows):
            similarity = F.cosine_similarity(features[b, n].double()[None], centers[b], dim=-1)
            index[b, n] = int(similarity.argmax())
    return index


@pytest.mark.parametrize(
    ("batch", "rows", "center_rows", "dim", "shared"),
    [(2, 37, 29, 45, False), (3, 64, 64, 24, False), (2, 17, 5, 3, True), (1, 1, 1, 7, False)],
)
def test_reference_equals_brute_force(batch, rows, center_rows, dim, shared) -> None:
    generator = torch.Generator().manual_seed(rows * dim)
    features = torch.randn(batch, rows, dim, generator=generator) * 5 + 0.3
    centers = torch.randn(1 if shared else batch, center_rows, dim, generator=generator) * 2

    recomposed, index = center_match_reference(features, centers)

    expected = _brute_force(features, centers)
    assert index.dtype == torch.int64 and index.shape == (batch, rows)
    assert torch.equal(index, expected)
    expanded = centers.expand(batch, -1, -1)
    for b in range(batch):
        assert torch.equal(recomposed[b], expanded[b, expected[b]])


@pytest.mark.parametrize("chunk_rows", [1, 7, 33, 256])
@pytest.mark.parametrize("shared", [False, True])
def test_chunked_equals_reference(chunk_rows: int, shared: bool) -> None:
    generator = torch.Generator().manual_seed(chunk_rows)
    features = torch.randn(3, 81, 19, generator=generator)
    centers = torch.randn(1 if shared else 3, 49, 19, generator=generator).half()

    recomposed, index = center_match_chunked(features, centers, chunk_rows=chunk_rows)

    expected_recomposed, expected_index = center_match_reference(features, centers)
    assert torch.equal(index, expected_index)
    assert torch.equal(recomposed, expected_recomposed)
    assert recomposed.dtype == torch.float16  # the centers' dtype, unnormalised


@pytest.mark.parametrize("impl", [center_match_reference, center_match_chunked])
def test_ties_resolve_to_the_lowest_index(impl) -> None:
    generator = torch.Generator().manual_seed(11)
    centers = torch.randn(1, 9, 6, generator=generator)
    # Row 7 is 2x row 2 (same direction, bit-identical unit vector); row 5 duplicates row 1.
    centers[0, 7] = 2 * centers[0, 2]
    centers[0, 5] = centers[0, 1]
    features = torch.stack([centers[0, 7] * 3, centers[0, 5] * 0.5, centers[0, 2]])[None]

    recomposed, index = impl(features, centers)

    assert index.tolist() == [[2, 1, 2]]
    assert torch.equal(recomposed[0, 0], centers[0, 2])  # the lower row's own vector


def test_broadcast_centers_equal_repeated_centers() -> None:
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(4, 30, 8, generator=generator)
    centers = torch.randn(1, 25, 8, generator=generator)
    shared = center_match_chunked(features, centers, chunk_rows=8)
    repeated = center_match_chunked(features, centers.repeat(4, 1, 1), chunk_rows=8)
    assert torch.equal(shared[0], repeated[0]) and torch.equal(shared[1], repeated[1])
    assert torch.equal(gather_centers(centers, shared[1]), shared[0])


def test_reference_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="expected features"):
        center_match_reference(torch.randn(2, 5, 4), torch.randn(2, 5, 3))


def test_class_matching_decides_per_image_without_batch_voting() -> None:
    """A batch of images near different classes gets different classes (CRAS.md section 3)."""
    generator = torch.Generator().manual_seed(8)
    class_centers = torch.randn(3, 16, 10, generator=generator)
    truth = [2, 0, 0, 1, 2]
    features = torch.stack(
        [class_centers[k] + 0.3 * torch.randn(16, 10, generator=generator) for k in truth]
    )

    matched = match_classes_reference(features, class_centers)

    assert matched.dtype == torch.int64
    assert matched.tolist() == truth
    # Each image alone gets the same answer as in the mixed batch.
    for b, k in enumerate(truth):
        assert match_classes_reference(features[b : b + 1], class_centers).tolist() == [k]


def test_class_matching_uses_the_cosine_of_whole_flattened_maps() -> None:
    """Against an explicit flattened cosine; scale of a map must not matter."""
    generator = torch.Generator().manual_seed(9)
    class_centers = torch.randn(4, 6, 5, generator=generator)
    features = torch.randn(7, 6, 5, generator=generator) * torch.linspace(0.1, 30, 7)[:, None, None]
    expected = torch.stack(
        [
            F.cosine_similarity(
                f.flatten()[None].double(), class_centers.flatten(1).double()
            ).argmax()
            for f in features
        ]
    )
    assert torch.equal(match_classes_reference(features, class_centers), expected)
