r"""Differentiable halo exchange: one ``all_to_all_single`` each way.

Forward, part :math:`p` sends the rows of its owned cells that its peers
reference and receives its halo rows, grouped by owner as its
:class:`~topodist.partition.plan.HaloPlan` orders them. Backward is the
transpose: the gradient of each halo row goes back to its owner, which adds it
into the gradient of the owned row it came from (a row sent to several peers
gets the sum of their gradients).

Every rank of the group must call the same exchanges in the same order: the
model code is the same on every rank, so it does. Ranks that send or receive
nothing still take part. Before each exchange the ranks agree, with one small
all-reduce, that every one of them has features of the right number of rows
and the same row shape and dtype; otherwise every rank raises, instead of one
raising and the others waiting in ``all_to_all_single`` (``validate=False``
skips that all-reduce).
"""

import contextlib
import math
import time
import weakref

import torch
import torch.distributed as dist

from topodist.partition.plan import HaloPlan

__all__ = ["HaloExchanger", "exchange_halo"]

_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128]


class RecentHalos:
    """The halo of the last few tensors exchanged through one plan, each kept while its tensor lives."""

    SIZE = 8

    def __init__(self) -> None:
        self.entries: list[tuple[weakref.ref, int, bool, torch.Tensor]] = []

    def get(self, x: torch.Tensor) -> torch.Tensor | None:
        """The halo exchanged for ``x`` unchanged since, in the same grad mode, or None."""
        for ref, version, grad_mode, halo in self.entries:
            if ref() is x and version == x._version and grad_mode == torch.is_grad_enabled():
                return halo
        return None

    def put(self, x: torch.Tensor, halo: torch.Tensor) -> None:
        """Keep ``halo`` as ``x``'s, pushing out the oldest beyond :attr:`SIZE`."""
        # an entry goes with its tensor (the callback holds this cache weakly), or when pushed out
        cache = weakref.ref(self)
        self.entries = [*self.entries[-(self.SIZE - 1) :], (weakref.ref(x, lambda gone: _drop_halo(cache, gone)),
                                                            x._version, torch.is_grad_enabled(), halo)]


def _drop_halo(cache: weakref.ref, gone: weakref.ref) -> None:
    halos = cache()
    if halos is not None:
        halos.entries = [entry for entry in halos.entries if entry[0] is not gone]


class HaloExchanger:
    """The tensors of one halo plan on one device, and the exchanges through it.

    Parameters
    ----------
    plan : HaloPlan
        This part's plan for one source rank.
    group : torch.distributed.ProcessGroup, optional
        Process group whose ranks are the parts; the default group when omitted.
    device : torch.device, optional
        Device of the features exchanged.
    validate : bool, default=True
        Agree on feature shapes across ranks before each exchange.

    Attributes
    ----------
    bytes_sent, bytes_received : int
        Feature bytes this rank has sent and received through the plan, forward and backward.
    traffic : dict of str to [int, int]
        The same split by the label of each exchange (the name of the neighborhood
        that started it): ``[bytes_sent, bytes_received]``.
    total_seconds : float
        Time exchanges were in flight, from their start until this rank had its rows.
    exposed_seconds : float
        Time spent waiting for exchanges to finish (not hidden behind compute).
    compute_seconds : float
        Time overlapped products spent multiplying (see ``PartitionedNeighborhood.matmul``).
    """

    def __init__(
        self, plan: HaloPlan, group: dist.ProcessGroup | None = None, device=None, validate: bool = True
    ) -> None:
        self.plan = plan
        self.group = group
        self.validate = validate
        self.n_owned = plan.n_owned
        self.n_halo = plan.n_halo
        self.send_index = torch.as_tensor(plan.send_index, dtype=torch.int64, device=device)
        self.send_counts = [int(n) for n in plan.send_counts]
        self.recv_counts = [int(n) for n in plan.recv_counts]
        self.bytes_sent = 0
        self.bytes_received = 0
        self.traffic: dict[str, list[int]] = {}
        self.total_seconds = 0.0
        self.exposed_seconds = 0.0
        self.compute_seconds = 0.0
        self._started: dict[int, float] = {}
        # the halos of the last tensors exchanged, read by every partitioned neighborhood of this plan (kept on
        # the exchanger, not in a table keyed by exchangers: a halo's graph holds its exchanger)
        self.recent_halos = RecentHalos()

    def _count(self, label: str, sent: torch.Tensor, received: torch.Tensor) -> None:
        sent_bytes, received_bytes = sent.numel() * sent.element_size(), received.numel() * received.element_size()
        self.bytes_sent += sent_bytes
        self.bytes_received += received_bytes
        counts = self.traffic.setdefault(label, [0, 0])
        counts[0] += sent_bytes
        counts[1] += received_bytes

    @contextlib.contextmanager
    def _peers(self, doing: str):
        """Name the failure when a peer dies or stops answering (gloo's and NCCL's own errors say little)."""
        try:
            yield
        except RuntimeError as error:
            raise RuntimeError(
                f"halo exchange failed on rank {dist.get_rank(self.group)} while {doing} for cells of rank "
                f"{self.plan.rank}: a peer process died or did not answer within the process group's timeout. "
                f"The job cannot go on; restart it (from its last checkpoint). Backend error: {error}"
            ) from error

    def _launch(self, output: torch.Tensor, data: torch.Tensor, output_counts, input_counts):
        start = time.perf_counter()
        with self._peers("starting an exchange"):
            work = dist.all_to_all_single(
                output, data, output_counts, input_counts, group=self.group, async_op=True
            )
        self._started[id(work)] = start
        return work

    def to(self, device) -> "HaloExchanger":
        """Move the send index to ``device``."""
        self.send_index = self.send_index.to(device)
        return self

    def check(self, x_owned: torch.Tensor) -> None:
        """Raise on every rank unless every rank passes owned features of one row shape and dtype."""
        ok = x_owned.dim() >= 2 and x_owned.shape[-2] == self.n_owned and x_owned.dtype in _DTYPES
        row_size = math.prod(x_owned.shape[:-2]) * x_owned.shape[-1] if x_owned.dim() >= 2 else -1
        dtype = _DTYPES.index(x_owned.dtype) if x_owned.dtype in _DTYPES else -1
        if self.validate:
            agreed = torch.tensor([int(ok), row_size, -row_size, dtype, -dtype], device=x_owned.device)
            with self._peers("agreeing on the features"):
                dist.all_reduce(agreed, op=dist.ReduceOp.MIN, group=self.group)
            all_ok, same = bool(agreed[0]), int(agreed[1]) == -int(agreed[2]) and int(agreed[3]) == -int(agreed[4])
        else:
            all_ok, same = ok, True
        if not ok:
            raise ValueError(
                f"features of rank {self.plan.rank} have shape {tuple(x_owned.shape)} and dtype {x_owned.dtype}; "
                f"this part owns {self.n_owned} cells of that rank: pass (..., {self.n_owned}, channels) "
                "floating features of the owned cells only."
            )
        if not all_ok:
            raise ValueError(
                f"another part passed features of rank {self.plan.rank} that do not match its halo plan "
                "(see the error on that part); no exchange was started."
            )
        if not same:
            raise ValueError(
                f"parts passed features of rank {self.plan.rank} with different row shapes or dtypes "
                f"(this part: {tuple(x_owned.shape[:-2])} x {x_owned.shape[-1]}, {x_owned.dtype}); "
                "every part must run the same model on the same kind of features."
            )

    # ------------------------------------------------------------------ forward
    def start(self, x_owned: torch.Tensor, label: str = "") -> tuple[torch.Tensor, object]:
        """Start sending owned rows; return the halo buffer and the pending work.

        Parameters
        ----------
        x_owned : torch.Tensor, shape = (..., n_owned, channels)
        label : str, default=""
            What the traffic is counted under (the neighborhood's name).

        Returns
        -------
        halo_rows : torch.Tensor, shape = (n_halo, ..., channels)
            Filled once :meth:`wait` returns for ``work``.
        work : torch.distributed.Work
        """
        self.check(x_owned)
        rows = x_owned.movedim(-2, 0)
        send = rows.index_select(0, self.send_index.to(rows.device)).contiguous()
        halo_rows = send.new_empty((self.n_halo, *rows.shape[1:]))
        self._count(label, send, halo_rows)
        return halo_rows, self._launch(halo_rows, send, self.recv_counts, self.send_counts)

    def wait(self, work) -> None:
        """Finish an exchange, counting the time spent waiting as exposed."""
        start = time.perf_counter()
        with self._peers("exchanging halo rows"):
            work.wait()
        end = time.perf_counter()
        self.exposed_seconds += end - start
        self.total_seconds += end - self._started.pop(id(work), start)

    # ----------------------------------------------------------------- backward
    def start_reverse(self, grad_halo: torch.Tensor, label: str = "") -> tuple[torch.Tensor, object]:
        """Start returning halo-row gradients to their owners.

        Parameters
        ----------
        grad_halo : torch.Tensor, shape = (..., n_halo, channels)
        label : str, default=""

        Returns
        -------
        received : torch.Tensor, shape = (n_sent, ..., channels)
            Gradients of the rows this part sent, in send order.
        work : torch.distributed.Work
        """
        rows = grad_halo.movedim(-2, 0).contiguous()
        received = rows.new_empty((self.send_index.numel(), *rows.shape[1:]))
        self._count(label, rows, received)
        return received, self._launch(received, rows, self.send_counts, self.recv_counts)

    def accumulate(self, grad_owned: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        """Add returned gradients into the owned rows they belong to.

        Parameters
        ----------
        grad_owned : torch.Tensor, shape = (..., n_owned, channels)
        received : torch.Tensor, shape = (n_sent, ..., channels)

        Returns
        -------
        torch.Tensor, shape = (..., n_owned, channels)
            ``grad_owned``, added to in place.
        """
        rows = grad_owned.movedim(-2, 0)
        rows.index_add_(0, self.send_index.to(rows.device), received.to(rows.dtype))
        return grad_owned


class _HaloExchange(torch.autograd.Function):
    """``x_owned -> halo``; backward returns halo gradients to their owners."""

    @staticmethod
    def forward(ctx, x_owned: torch.Tensor, exchanger: HaloExchanger, label: str) -> torch.Tensor:
        ctx.exchanger, ctx.label = exchanger, label
        ctx.owned_shape = x_owned.shape
        halo_rows, work = exchanger.start(x_owned, label)
        exchanger.wait(work)
        return halo_rows.movedim(0, -2)

    @staticmethod
    def backward(ctx, grad_halo: torch.Tensor):
        exchanger = ctx.exchanger
        received, work = exchanger.start_reverse(grad_halo, ctx.label)
        exchanger.wait(work)
        return exchanger.accumulate(grad_halo.new_zeros(ctx.owned_shape), received), None, None


def exchange_halo(x_owned: torch.Tensor, exchanger: HaloExchanger, label: str = "") -> torch.Tensor:
    """The halo features of ``x_owned``, differentiably.

    Parameters
    ----------
    x_owned : torch.Tensor, shape = (..., n_owned, channels)
        Features of the cells this part owns.
    exchanger : HaloExchanger
        The plan of these cells' rank.
    label : str, default=""
        What the traffic is counted under (see ``HaloExchanger.traffic``).

    Returns
    -------
    torch.Tensor, shape = (..., n_halo, channels)
        Rows in the order of the local matrices' halo columns.
    """
    return _HaloExchange.apply(x_owned, exchanger, label)
