"""Center matching in plain PyTorch: the reference every fast path is compared with.

CRAS matches every adapted feature vector to the most similar vector of its
class's contextual center (HPI, CRAS.md section 3):

* **global**: per image, the class whose whole flattened center map has the
  highest cosine similarity with the image's flattened feature map;
* **local**: per position, the center vector (any of the M positions of the
  matched class's center) with the highest cosine similarity.

Ties resolve to the lowest index in both cases, so every implementation
(chunked PyTorch here, the Triton kernel and the TensorRT plugin in
``engines``) can be compared exactly on indices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Vectors shorter than this are treated as having this norm (avoids 0/0 on zero vectors).
NORM_EPS = 1e-12


def unit_vectors(x: torch.Tensor) -> torch.Tensor:
    """Scale the last dimension to unit L2 norm (zero vectors stay zero)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(NORM_EPS)


def match_classes_reference(features: torch.Tensor, class_centers: torch.Tensor) -> torch.Tensor:
    """Global center matching, one decision per image.

    Args:
        features: Adapted feature maps, [B, N, D].
        class_centers: Contextual centers of all classes, [K, N, D].

    Returns:
        Index of the most similar class per image, [B] int64.
    """
    flat_features = unit_vectors(features.flatten(1).float())
    flat_centers = unit_vectors(class_centers.flatten(1).float())
    similarity = flat_features @ flat_centers.T  # [B, K]
    return similarity.argmax(dim=1)


def center_match_reference(
    features: torch.Tensor, centers: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Local center matching by brute force (materialises the similarity matrix).

    Args:
        features: Adapted features, [B, N, D].
        centers: The matched class's center per image, [B, M, D], or [1, M, D]
            shared by the whole batch.

    Returns:
        ``(recomposed, index)``: the chosen center vectors [B, N, D] (in the
        centers' dtype, unnormalised) and their positions in the center [B, N] int64.
    """
    if features.dim() != 3 or centers.dim() != 3 or features.shape[-1] != centers.shape[-1]:
        raise ValueError(
            f"expected features [B,N,D] and centers [B|1,M,D], got {tuple(features.shape)} "
            f"and {tuple(centers.shape)}"
        )
    batch = features.shape[0]
    expanded = centers.expand(batch, -1, -1)
    similarity = unit_vectors(features.float()) @ unit_vectors(expanded.float()).transpose(1, 2)
    index = similarity.argmax(dim=2)  # first maximum on ties
    recomposed = torch.gather(expanded, 1, index.unsqueeze(-1).expand(-1, -1, centers.shape[-1]))
    return recomposed, index


def center_match_chunked(
    features: torch.Tensor, centers: torch.Tensor, *, chunk_rows: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Local center matching with bounded memory: the same result as the reference.

    Processes ``chunk_rows`` feature rows at a time so that at most
    B x chunk_rows x M similarities exist at once.
    """
    batch, rows, dim = features.shape
    expanded = centers.expand(batch, -1, -1)
    center_units = unit_vectors(expanded.float()).transpose(1, 2).contiguous()  # [B, D, M]
    index = torch.empty(batch, rows, dtype=torch.int64, device=features.device)
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        block = unit_vectors(features[:, start:stop].float())
        index[:, start:stop] = torch.bmm(block, center_units).argmax(dim=2)
    recomposed = torch.gather(expanded, 1, index.unsqueeze(-1).expand(-1, -1, dim))
    return recomposed, index


def gather_centers(centers: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Pick ``centers[b, index[b, n]]`` for every row; centers may be [1, M, D]."""
    expanded = centers.expand(index.shape[0], -1, -1)
    return torch.gather(expanded, 1, index.unsqueeze(-1).expand(-1, -1, centers.shape[-1]))


def cosine_to_centers(features: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each row with its recomposed center row, [B, N]."""
    return F.cosine_similarity(features.float(), centers.float(), dim=-1)
