.PHONY: setup demo test check clean
VENV := .venv/bin

setup:
	@bash tools/setup.sh

demo: setup
	$(VENV)/bilicast bench scripts/demo.yaml
	$(VENV)/bilicast render scripts/demo.yaml

test: setup
	$(VENV)/python -m pytest -q

# the fast tier for everyday work: the type check, then the tests not marked slow (tests/conftest.py)
check: setup
	$(VENV)/python -m mypy bilicast
	$(VENV)/python -m pytest -q -m "not slow"

clean:
	rm -rf out .cache
