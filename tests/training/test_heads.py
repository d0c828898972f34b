"""CellClassifier hands a backbone the arguments its forward takes: flat, as lists, as dicts."""

import pytest
import torch

from tests.reference import relative_error
from topodist.data.datasets import random_geometric_complex
from topodist.nn.simplicial.sccn import SCCN
from topodist.nn.simplicial.sccnn import SCCNN
from topodist.training.heads import CellClassifier


def test_nested_inputs_reach_tuple_and_dict_backbones():
    complex_ = random_geometric_complex(50, 0.25, seed=0)
    x = {k: complex_.features[k] for k in range(3)}
    names = ["hodge_laplacian_0", "down_laplacian_1", "up_laplacian_1", "hodge_laplacian_2", "incidence_1", "incidence_2"]
    neighborhoods = {name: complex_.neighborhood(name) for name in names + ["adjacency_0", "adjacency_1", "coadjacency_2"]}
    torch.manual_seed(0)
    tuples = CellClassifier(
        SCCNN((4, 4, 4), (4, 4, 4), conv_order=1, sc_order=2, n_layers=1),
        [["x_0", "x_1", "x_2"], names[:4], names[4:]], {0: 2, 1: 2, 2: 2}, 4, n_classes=3, rank=1, output=1,
    )
    assert tuples.neighborhoods == names + ["incidence_1.T", "incidence_2.T"]
    projected = [tuples.project[str(k)](x[k]) for k in range(3)]
    backbone_out = tuples.backbone(projected, [neighborhoods[n] for n in names[:4]], [neighborhoods[n] for n in names[4:]])
    expected = tuples.head(backbone_out[1])
    assert relative_error(tuples(x, neighborhoods)[1], expected) <= 1e-6

    dicts = CellClassifier(
        SCCN(4, max_rank=2, n_layers=1),
        [
            {"rank_0": "x_0", "rank_1": "x_1", "rank_2": "x_2"},
            {"rank_1": "incidence_1", "rank_2": "incidence_2"},
            {"rank_0": "adjacency_0", "rank_1": "adjacency_1", "rank_2": "coadjacency_2"},
        ],
        {0: 2, 1: 2, 2: 2}, 4, n_classes=2, rank=2, output="rank_2",
    )
    assert dicts(x, neighborhoods)[2].shape == (complex_.n_cells[2], 2)
    with pytest.raises(ValueError, match=r"in_channels has no width for the features of rank\(s\) \[2\]"):
        CellClassifier(SCCN(4, 2), [{"rank_2": "x_2"}], {0: 2}, 4, 2)
    with pytest.raises(ValueError, match="unknown neighborhood 'adjacency'"):
        CellClassifier(SCCN(4, 2), [["x_0", "adjacency"]], {0: 2}, 4, 2)
