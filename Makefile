# Everything a fresh machine needs is installed by these targets (Python venv, helm, the local
# control plane built from the Go module proxy). See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv crds cluster cluster-down test test-unit demo lint kind-up kind-down clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml hack/install-helm.sh hack/install-test-deps.sh
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	bash hack/install-helm.sh $(VENV)/bin
	bash hack/install-test-deps.sh
	touch $@

CRDS := rollouts analysistemplates clusteranalysistemplates

crds: venv
	for crd in $(CRDS); do $(VENV)/bin/shiftlane crd $$crd > crds/$$crd.shiftlane.io.yaml; done
	cp $(CRDS:%=crds/%.shiftlane.io.yaml) charts/shiftlane/files/crds/

cluster: venv  # the cluster's pod server runs in the venv
	bash hack/cluster.sh up

cluster-down:
	bash hack/cluster.sh down

# Unit, chart, integration and e2e tests on a private local control plane, torn down at the end.
test: venv
	bash hack/test.sh

test-unit: venv
	$(VENV)/bin/pytest -q tests/unit tests/chart

lint: venv
	$(VENV)/bin/lint-imports

demo: venv
	bash hack/demo.sh

kind-up:
	bash hack/kind.sh up

kind-down:
	bash hack/kind.sh down

clean:
	rm -rf $(VENV) build *.egg-info
