"""The update functions (🟦) models name by string: ``"relu"``, ``"sigmoid"`` or None."""

import torch

__all__ = ["UPDATES", "apply_update", "check_update"]

UPDATES = ("relu", "sigmoid", None)


def check_update(update_func) -> None:
    """Raise for an ``update_func`` that :func:`apply_update` cannot apply."""
    if update_func not in UPDATES:
        raise ValueError(f"update_func={update_func!r} is not supported; choose one of {UPDATES}.")


def apply_update(x: torch.Tensor, update_func) -> torch.Tensor:
    """``sigmoid(x)``, ``relu(x)`` or ``x`` for ``update_func`` ``"sigmoid"``, ``"relu"`` or None."""
    if update_func == "sigmoid":
        return torch.sigmoid(x)
    if update_func == "relu":
        return torch.nn.functional.relu(x)
    return x
