"""Checks of a rank's training data that every part runs together, so that bad data stops every rank at once.

Each check counts problems on this part's cells and sums the counts over the
ranks (one all-reduce) before deciding, so every rank raises the same error
(naming global cell ids, this part's first few) before any training
collective starts, instead of one rank failing and the others waiting for it.
"""

import warnings

import torch

__all__ = ["NONFINITE_POLICIES", "check_complex_labels", "check_features", "check_labels_and_splits", "classes_of"]

NONFINITE_POLICIES = ("raise", "skip")


def _first(ids: torch.Tensor, limit: int = 5) -> list[int]:
    return [int(i) for i in ids[:limit]]


def check_features(features: dict, cell_ids: dict, global_sum, policy: str, where: str, ranks=None) -> dict:
    """Refuse (or drop) cells whose input features are NaN or infinite.

    Parameters
    ----------
    features : dict of int to torch.Tensor
        Rank -> this part's features, shape = (n_cells, channels). With
        ``"skip"``, bad rows are zeroed in a new tensor put in the dict.
    cell_ids : dict of int to torch.Tensor
        Rank -> global ids of those rows.
    global_sum : callable
        Sums a tensor over the ranks (the identity on one process).
    policy : {"raise", "skip"}
        ``"skip"`` zeroes the bad rows and returns them so their labels leave every split.
    where : str
        What to name in the error (the data source).
    ranks : iterable of int, optional
        The ranks to check (those the model reads); every rank of ``features`` by default.

    Returns
    -------
    dict of int to torch.Tensor
        Rank -> boolean mask of this part's dropped cells (with ``"skip"``).
    """
    if policy not in NONFINITE_POLICIES:
        raise ValueError(f"data.init_args.nonfinite={policy!r}: choose one of {NONFINITE_POLICIES}.")
    dropped = {}
    for rank in sorted(features if ranks is None else ranks):
        bad = ~torch.isfinite(features[rank]).all(dim=-1)
        total = int(global_sum(bad.sum()).item())
        if total == 0:
            continue
        ids = cell_ids[rank][bad]
        if policy == "raise":
            example = f"; cells {_first(ids)} on this part" if len(ids) else ""
            raise ValueError(
                f"{where}: {total} cell(s) of rank {rank} have NaN or infinite features{example}. Fix the data, or "
                "set data.init_args.nonfinite=skip to zero those features and leave those cells out of every split."
            )
        features[rank] = features[rank].masked_fill(bad.unsqueeze(-1), 0)
        dropped[rank] = bad
        warnings.warn(
            f"{where}: {total} cell(s) of rank {rank} have NaN or infinite features; zeroed and left out of every "
            f"split (nonfinite=skip){f', e.g. cells {_first(ids)}' if len(ids) else ''}.",
            stacklevel=2,
        )
    return dropped


def check_labels_and_splits(
    labels: torch.Tensor, masks: dict, cell_ids: torch.Tensor, n_classes: int | None, global_sum, stage: str,
    where: str,
) -> None:
    """Refuse labels outside ``[0, n_classes)`` (or non-finite targets) in any split, and empty splits a stage needs.

    Parameters
    ----------
    labels : torch.Tensor, shape = (n_cells,)
        This part's labels of the classified rank.
    masks : dict of str to torch.Tensor
        Split -> this part's boolean mask.
    cell_ids : torch.Tensor, shape = (n_cells,)
        Global ids of those cells.
    n_classes : int or None
        Number of classes; ``None`` for regression targets.
    global_sum : callable
    stage : str
        Lightning's stage: ``"fit"`` needs train and val cells, ``"validate"`` val, ``"test"`` test.
    where : str
    """
    used = torch.zeros_like(labels, dtype=torch.bool)
    for mask in masks.values():
        used |= mask
    if n_classes is None:
        bad = used & ~torch.isfinite(labels.to(torch.float64))
        what = "non-finite regression targets"
    else:
        bad = used & ((labels < 0) | (labels >= n_classes))
        what = f"labels outside 0 .. {n_classes - 1} (n_classes={n_classes})"
    total = int(global_sum(bad.sum()).item())
    if total:
        ids = cell_ids[bad]
        values = [labels[bad][i].item() for i in range(min(5, len(ids)))]
        example = f"; on this part cells {_first(ids)} have {values}" if len(ids) else ""
        raise ValueError(f"{where}: {total} labelled cell(s) have {what}{example}.")
    stage = str(getattr(stage, "value", stage))
    needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, ())
    for split in needed:
        count = int(global_sum(masks[split].sum()).item()) if split in masks else 0
        if count == 0:
            raise ValueError(f"{where}: the {split!r} split has no labelled cells; `topodist {stage}` needs some.")


def check_complex_labels(complexes: list, n_classes: int | None, where: str) -> None:
    """Refuse complexes whose label is missing or outside ``[0, n_classes)``.

    Every rank holds the whole dataset of a data-parallel run, so every rank
    raises the same error without a collective.

    Parameters
    ----------
    complexes : list of Complex
        The dataset, every split.
    n_classes : int or None
        The network's number of classes; ``None`` when it does not say (only
        missing labels are refused then).
    where : str
        What to name in the error, e.g. the data source.
    """
    bad = [
        c for c in complexes
        if c.complex_label is None or (n_classes is not None and not 0 <= c.complex_label < n_classes)
    ]
    if bad:
        examples = ", ".join(f"{c.name or '?'} ({c.complex_label})" for c in bad[:5])
        what = "no label" if n_classes is None else f"no label or a label outside 0 .. {n_classes - 1}"
        raise ValueError(
            f"{where}: {len(bad)} of {len(complexes)} complexes have {what} "
            f"(n_classes={n_classes}); the first: {examples}."
        )


def classes_of(network, task: str) -> int | None:
    """The network's ``n_classes`` (``None`` when it has none); fewer than 2 is refused for a classification task.

    Parameters
    ----------
    network : torch.nn.Module
    task : str
        The task's name, for the error.
    """
    n_classes = getattr(network, "n_classes", None)
    if n_classes is None:
        return None
    if int(n_classes) < 2:
        regression = task == "CellClassification"
        instead = "; for one value per cell use topodist.training.CellRegression" if regression else ""
        raise ValueError(
            f"model.init_args.network.init_args.n_classes={n_classes}: {task} needs at least 2 classes "
            f"(one logit per class){instead}."
        )
    return int(n_classes)
