# The README's two commands: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[mlx,guardrails]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[mlx,test]"
	touch $@

# The Label Studio server the learning loop's sync test talks to: ~1 GB of Django, kept out of the gateway's venv.
LABEL_STUDIO_VENV ?= .venv-labelstudio
$(LABEL_STUDIO_VENV)/.installed:
	$(PYTHON) -m venv $(LABEL_STUDIO_VENV)
	$(LABEL_STUDIO_VENV)/bin/python -m pip install --quiet label-studio==1.23.2
	touch $@

# Real guardrails-ai (it needs openai<3; the SDK tests above need openai 3): its tests run in a venv of their own.
GUARDRAILS_AI_VENV ?= .venv-guardrails-ai
GUARDRAILS_AI_TESTS := tests/gateway/guardrails/test_guardrails_ai.py tests/admin/test_guardrails_ai_editor.py
$(GUARDRAILS_AI_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(GUARDRAILS_AI_VENV)
	$(GUARDRAILS_AI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(GUARDRAILS_AI_VENV)/bin/python -m pip install --quiet -e ".[test-guardrails-ai]"
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/gateway demo
	$(BIN)/gateway serve

test: $(VENV)/.installed-test $(LABEL_STUDIO_VENV)/.installed $(GUARDRAILS_AI_VENV)/.installed
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) || echo "chromium not installed: browser tests will be skipped"
	$(BIN)/python -m pytest
	$(GUARDRAILS_AI_VENV)/bin/python -m pytest $(GUARDRAILS_AI_TESTS)
