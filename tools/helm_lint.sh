#!/usr/bin/env bash
# `make helm-lint`: lint and render deploy/helm/robson with helm-sdkpy (the Helm engine as a
# Python package). It lives in its own throwaway venv under .data/tools/, never in the uv
# workspace: it declares Python 3.12 but works on 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.data/tools/helm-venv
# kubernetes-validate carries the Kubernetes OpenAPI schemas in the wheel: nothing is fetched
# at validation time.
if ! "$VENV/bin/python" -c "import helm_sdkpy, yaml, kubernetes_validate" 2>/dev/null; then
  echo "helm-lint: installing helm-sdkpy and kubernetes-validate into $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --ignore-requires-python helm-sdkpy pyyaml \
    kubernetes-validate
fi
# Helm's cache/config/data under .data, not the user's home.
export HELM_CACHE_HOME="$PWD/.data/tools/helm-home/cache" HELM_CONFIG_HOME="$PWD/.data/tools/helm-home/config" \
  HELM_DATA_HOME="$PWD/.data/tools/helm-home/data"
exec "$VENV/bin/python" deploy/helm/lint_chart.py deploy/helm/robson deploy/helm/robson/values-example.yaml "$@"
