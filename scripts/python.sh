#!/usr/bin/env bash
# Makes the Python environment: a virtualenv in .venv with the Python SDK (sdk/python, whose gRPC modules are
# generated from proto/ while it installs) and pytest. Idempotent and quick when nothing changed: the SDK is
# reinstalled only when its sources or the protos differ from the last install. Prints the venv's python on stdout;
# every install (Debian's python3-venv when venv is missing, the tools from PyPI, the SDK) is announced on stderr
# before it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "python.sh: $*" >&2; }

venv="${GANTRY_VENV:-$PWD/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.gantry-sdk-stamp"

if [ ! -x "$venv/bin/python" ]; then
  log "creating a virtualenv at $venv"
  if ! "$python" -m venv "$venv" >&2 2>/dev/null; then
    # Debian's python3 ships venv separately.
    if [ "$(id -u)" != 0 ]; then
      log "$python has no venv module and this is not root: install python3-venv, or set PYTHON"
      exit 1
    fi
    log "$python has no venv module: installing Debian's python3-venv package (apt-get update; apt-get install python3-venv)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
    "$python" -m venv "$venv" >&2
  fi
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)

# The build tools go into the venv once, so that installs run without build isolation (no fresh download per build).
tools_stamp="$venv/.gantry-tools-stamp"
tools=(setuptools wheel build "grpcio-tools>=1.66" "pytest>=8" "cryptography>=42" "opentelemetry-api>=1.27,<2"
  "opentelemetry-sdk>=1.27,<2" # the test extra of sdk/python/pyproject.toml
  "playwright>=1.45,<2") # the console's browser tests (tests/console), driving the system chromium
if [ ! -f "$tools_stamp" ] || [ "$(cat "$tools_stamp")" != "${tools[*]}" ]; then
  log "installing build and test tools: ${tools[*]}"
  "${pip[@]}" install "${tools[@]}" >&2
  echo "${tools[*]}" >"$tools_stamp"
fi

inputs_hash=$(
  { find sdk/python -path sdk/python/build -prune -o -type f \( -name '*.py' -o -name '*.toml' -o -name '*.md' \) \
      -not -path '*/tests/*' -not -path '*/examples/*' -not -path '*.egg-info*' -print
    find proto -type f -name '*.proto'; } | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs_hash" ]; then
  log "installing the SDK from sdk/python (generating gantry.v1 from proto/)"
  rm -rf sdk/python/build
  # Before the SDK was named gantry-sdk it was installed as `gantry`: two distributions must not own one package.
  if "$venv/bin/python" -m pip show -q gantry >/dev/null 2>&1; then
    log "removing the SDK's old distribution name (gantry) from $venv"
    "${pip[@]}" uninstall -y gantry >&2
  fi
  "${pip[@]}" install --no-build-isolation --force-reinstall --no-deps ./sdk/python >&2
  # Its runtime dependencies (grpcio, protobuf) came with grpcio-tools; pip check verifies the SDK's pins on them.
  "$venv/bin/python" -m pip check >&2
  rm -rf sdk/python/build
  echo "$inputs_hash" >"$stamp"
fi
echo "$venv/bin/python"
