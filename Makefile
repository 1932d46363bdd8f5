.PHONY: setup demo test clean
VENV := .venv/bin

setup:
	@bash tools/setup.sh

demo: setup
	$(VENV)/bilicast bench scripts/demo.yaml
	$(VENV)/bilicast render scripts/demo.yaml

test: setup
	$(VENV)/python -m pytest -q

clean:
	rm -rf out .cache
