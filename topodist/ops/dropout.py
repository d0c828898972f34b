r"""Dropout whose mask belongs to the cells, not to the rows of a rank's tensor.

``torch.nn.Dropout`` draws one mask for the rows it is given: on one device the
rows of every cell, on a part only its owned rows, so a partitioned run would
drop other entries than the one-device run. :class:`CellDropout` draws each
entry's keep-or-drop from a hash of (one key per call, the cell's global id,
the channel): a part drops exactly the entries of its cells that one device
drops. The key is one draw from torch's global generator per call, so runs are
reproducible under ``torch.manual_seed`` / ``seed_everything`` as with torch's
dropout (every rank draws the same key: same seed, same calls).
"""

import torch

__all__ = ["CellDropout", "cell_ids", "cell_uniform", "draw_key", "drop_entries", "entry_uniform"]

_MODULUS = 2**31
_MULTIPLIER = 0x45D9F3B
_CHANNEL_STRIDE = 0x27D4EB2D


def _mix(h: torch.Tensor) -> torch.Tensor:
    """A 31-bit integer hash; every product stays below 2^62, so int64 never overflows."""
    h = ((h ^ (h >> 16)) * _MULTIPLIER) % _MODULUS
    h = ((h ^ (h >> 16)) * _MULTIPLIER) % _MODULUS
    return h ^ (h >> 16)


def cell_uniform(key: int, cells: torch.Tensor, channels: int) -> torch.Tensor:
    """Uniform numbers in [0, 1), a function of ``(key, cell, channel)`` only.

    Parameters
    ----------
    key : int
        In ``[0, 2^31)``.
    cells : torch.Tensor, shape = (n_cells,)
        Global ids.
    channels : int

    Returns
    -------
    torch.Tensor, shape = (n_cells, channels), float64
    """
    h = _mix((cells.to(torch.int64) % _MODULUS) ^ key)
    channel = torch.arange(channels, dtype=torch.int64, device=cells.device)
    h = _mix((h.unsqueeze(-1) + channel * _CHANNEL_STRIDE) % _MODULUS)
    return h.to(torch.float64) / _MODULUS


def draw_key() -> int:
    """One key for :func:`cell_uniform`, drawn from torch's global generator (the same on every seeded rank)."""
    return int(torch.randint(0, _MODULUS, (1,)).item())


def cell_ids(x: torch.Tensor, over=None) -> torch.Tensor:
    """Global ids of the rows of ``x``.

    Parameters
    ----------
    x : torch.Tensor, shape = (..., n_cells, channels)
    over : torch.sparse or PartitionedNeighborhood, optional
        A neighborhood whose target cells are ``x``'s rows: its ``target_cells``
        when partitioned, else ``0 .. n_cells - 1``.

    Returns
    -------
    torch.Tensor, shape = (n_cells,)
    """
    cells = getattr(over, "target_cells", None)
    if cells is None:
        return torch.arange(x.shape[-2], device=x.device)
    return cells.to(x.device)


def entry_uniform(target_index: torch.Tensor, source_index: torch.Tensor, channels: int, over=None) -> torch.Tensor:
    """Uniform numbers in [0, 1) per neighborhood entry, a function of (a new key, its two global cells, channel).

    Draws one key from torch's generator (as :func:`draw_key`).

    Parameters
    ----------
    target_index, source_index : torch.Tensor, shape = (n_entries,)
        Local row and column of every entry.
    channels : int
    over : torch.sparse or PartitionedNeighborhood, optional
        The neighborhood: partitioned, its ``target_cells`` and ``source_cells``
        give the global ids; otherwise the indices are global.

    Returns
    -------
    torch.Tensor, shape = (n_entries, channels), float64
    """
    targets, sources = target_index, source_index
    if getattr(over, "target_cells", None) is not None:
        if over.source_cells is None:
            raise ValueError("a draw per neighborhood entry needs the global ids of its columns (source_cells).")
        targets = over.target_cells.to(target_index.device)[target_index]
        sources = over.source_cells.to(source_index.device)[source_index]
    key = draw_key()
    pair = (_mix((targets.to(torch.int64) % _MODULUS) ^ key) + sources.to(torch.int64) % _MODULUS) % _MODULUS
    return cell_uniform(key, pair, channels)


def drop_entries(
    x: torch.Tensor, p: float, target_index: torch.Tensor, source_index: torch.Tensor, over=None
) -> torch.Tensor:
    """Dropout of one value per neighborhood entry (e.g. attention weights), keyed by the entry's two global cells.

    Parameters
    ----------
    x : torch.Tensor, shape = (n_entries, channels)
    p : float
        Probability to zero an entry; the others are scaled by ``1 / (1 - p)``.
    target_index, source_index : torch.Tensor, shape = (n_entries,)
        Local row and column of every entry.
    over : torch.sparse or PartitionedNeighborhood, optional
        The neighborhood: partitioned, its ``target_cells`` and ``source_cells``
        give the global ids; otherwise the indices are global.

    Returns
    -------
    torch.Tensor, shape = (n_entries, channels)
    """
    if p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    keep = entry_uniform(target_index, source_index, x.shape[-1], over) >= p
    return x * keep.to(x.dtype) / (1.0 - p)


class CellDropout(torch.nn.Module):
    r"""Zero each entry with probability ``p`` and scale the rest by :math:`1 / (1 - p)`, per global cell.

    Parameters
    ----------
    p : float, default=0.5

    Notes
    -----
    The identity in eval mode or with ``p == 0``. In training, ``forward(x, over)``
    reads the global ids of ``x``'s rows from ``over``: the target cells of a
    partitioned neighborhood (its ``target_cells``), or ``0 .. n - 1`` for a
    torch sparse neighborhood or ``None``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p={p} must be between 0 and 1.")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor, over=None) -> torch.Tensor:
        """Drop entries of ``x``.

        Parameters
        ----------
        x : torch.Tensor, shape = (..., n_cells, channels)
        over : torch.sparse or PartitionedNeighborhood, optional
            A neighborhood whose target cells are ``x``'s rows.

        Returns
        -------
        torch.Tensor, shape = (..., n_cells, channels)
        """
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        keep = cell_uniform(draw_key(), cell_ids(x, over), x.shape[-1]) >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)
