r"""Half-precision features, float32 sums.

Under ``torch.autocast`` (Lightning's ``precision="bf16-mixed"`` or
``"16-mixed"``) the dense layers hand bfloat16 or float16 features to the
aggregation. A sum of many messages accumulated in 8 (bfloat16) or 11
(float16) mantissa bits loses the small terms once the total grows: 256 + 1 is
256 in bfloat16. Aggregations therefore convert low-precision features to
float32, sum there, and round the result back to the features' dtype once.
"""

import torch

__all__ = ["LOW_PRECISION_DTYPES", "accumulation_dtype"]

LOW_PRECISION_DTYPES = (torch.float16, torch.bfloat16)


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype sums of ``dtype`` values accumulate in.

    Parameters
    ----------
    dtype : torch.dtype
        The features' dtype.

    Returns
    -------
    torch.dtype
        ``torch.float32`` for float16 and bfloat16, ``dtype`` itself otherwise.
    """
    return torch.float32 if dtype in LOW_PRECISION_DTYPES else dtype
