# Two commands on a fresh machine: `make train` and `make test`.
# Both create .venv when it is missing and install everything topodist needs.
#
# CPU machines get torch's CPU build through the pin below. On a GPU cluster,
# install the CUDA build first, e.g.
#   make setup TORCH_INDEX="--index-url <PyTorch CUDA wheel index for your CUDA>"
# (see README, "Installing on a GPU cluster").

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
TORCH_SCATTER_SPEC ?= torch-scatter==2.1.2
TOPOMODELX_SPEC ?= topomodelx==0.0.1
TORCH_GEOMETRIC_SPEC ?= torch-geometric==2.8.1
PYTEST_ARGS ?=
# test files run on this many pytest-xdist workers, each file whole on one worker (0: in this process)
PYTEST_WORKERS ?= 2
SETUP_STAMP := $(VENV)/.topodist-setup

.PHONY: setup slurm train test bench clean

setup: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel
	# torch first: with the pinned build in place nothing below pulls another torch.
	$(BIN)/python -m pip install $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -e '.[test]'
	# torch_scatter compiles against the installed torch (about 4 minutes on 2
	# cores the first time; pip caches the wheel afterwards).
	$(BIN)/python -m pip install --no-build-isolation "$(TORCH_SCATTER_SPEC)"
	# TopoModelX is the reference the tests compare against; its own pins
	# (numpy<2, ...) are not needed for that, hence --no-deps.
	$(BIN)/python -m pip install --no-deps "$(TOPOMODELX_SPEC)"
	# TopoModelX's AllSetTransformer imports its softmax from torch_geometric
	# (pure Python); the tests need it for that reference only, topodist does not.
	$(BIN)/python -m pip install "$(TORCH_GEOMETRIC_SPEC)"
	touch $@

# The main job: HSN on a torus mesh, partitioned across 2 CPU ranks (gloo); W&B
# logs offline to runs/wandb, checkpoints go to runs/torus_hsn/checkpoints.
TRAIN_CONFIG ?= configs/torus_hsn.yaml

train: setup
	$(BIN)/topodist fit --config $(TRAIN_CONFIG)
	$(BIN)/topodist test --config $(TRAIN_CONFIG) --ckpt_path last

# The SLURM tests start a one-node cluster from Debian's slurm-wlm and munge. Where
# apt-get is available (as root, or through sudo) they are installed and the tests
# must run; elsewhere they skip.
slurm:
	@if command -v sbatch >/dev/null && command -v munged >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null; }; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null; \
	else echo "no apt-get: the SLURM tests will skip"; fi

test: setup slurm
	TOPODIST_REQUIRE_TORCH_SCATTER=1 TOPODIST_REQUIRE_TOPOMODELX=1 \
	TOPODIST_REQUIRE_SLURM=$$(command -v sbatch >/dev/null && command -v munged >/dev/null && echo 1 || echo 0) \
		$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The performance figures of BENCHMARKS.md (about 20 minutes on 2 cores); each prints its table.
bench: setup
	$(BIN)/python -m benchmarks.spmm_roofline --size 200 --channels 64
	$(BIN)/python -m benchmarks.dense_products --threads 2
	$(BIN)/python -m benchmarks.product_forms --channels 64
	$(BIN)/python -m benchmarks.zoo_vs_topomodelx --size 200 --channels 64 --repeats 3
	$(BIN)/python -m benchmarks.scaling --mode strong --cells 1000000 --ranks 1 2 4 --steps 10 --independent
	$(BIN)/python -m benchmarks.scaling --mode weak --cells 250000 --ranks 1 2 4
	$(BIN)/python -m benchmarks.memory_bandwidth --processes 1 2
	$(BIN)/python -m benchmarks.mixed_precision --size 200 --channels 64
	$(BIN)/python -m benchmarks.laplacian_forms --source rgg:20000:0.02 --devices 2 --steps 12
	$(BIN)/python -m benchmarks.one_device --cells 1000000

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
