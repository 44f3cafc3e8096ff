#!/usr/bin/env bash
# Creates the Python environment the peer workloads run in: a venv at
# tools/peers/.venv with uvloop installed. Idempotent: a second run that finds
# a working venv with the pinned uvloop changes nothing.
#
# Usage:   tools/peers/setup.sh
# Output:  progress on stderr; the venv's python path as the last line of stdout,
#          so a harness can do  PY="$(tools/peers/setup.sh | tail -n 1)".
# Environment:
#   PYTHON          interpreter to build the venv from (default: python3)
#   UVLOOP_VERSION  uvloop version to install (default: 0.23.0, the version the
#                   reference figures were measured with)
#
# On Debian/Ubuntu the system python3 cannot create a venv without the
# python3-venv package; when that is the failure and we are root, the package is
# installed with apt-get and the venv is created again. Nothing is installed
# when venv creation works.
set -euo pipefail

peers_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv_dir="$peers_dir/.venv"
venv_python="$venv_dir/bin/python"
base_python="${PYTHON:-python3}"
uvloop_version="${UVLOOP_VERSION:-0.23.0}"

log() { echo "setup.sh: $*" >&2; }

# True when the venv runs and already holds the wanted uvloop.
venv_is_ready() {
    [[ -x "$venv_python" ]] &&
        "$venv_python" -c 'import sys, uvloop; sys.exit(uvloop.__version__ != sys.argv[1])' \
            "$uvloop_version" 2>/dev/null
}

# Debian splits venv/ensurepip out of the interpreter package: python3.X-venv
# matches the interpreter exactly; python3-venv is the distribution's default.
install_debian_venv_package() {
    local minor
    minor="$("$base_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        log "'$base_python -m venv' failed; install python${minor}-venv (or python3-venv) and run again"
        exit 1
    fi
    log "'$base_python -m venv' failed; installing python${minor}-venv with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends "python${minor}-venv" >&2 ||
        apt-get install -y --no-install-recommends python3-venv >&2
}

create_venv() {
    # A half-made venv (say, one that lacks pip) would fool later runs.
    rm -rf "$venv_dir"
    "$base_python" -m venv "$venv_dir" >&2
}

if venv_is_ready; then
    log "venv ready: uvloop $uvloop_version in $venv_dir"
else
    command -v "$base_python" >/dev/null || { log "no '$base_python' on PATH"; exit 1; }
    # Reuse an existing venv only if its interpreter still runs (a venv points
    # at the python that made it, which may have moved or been upgraded).
    if ! "$venv_python" -c 'import pip' 2>/dev/null; then
        log "creating venv at $venv_dir with $base_python"
        if ! create_venv; then
            install_debian_venv_package
            create_venv
        fi
    fi
    log "installing uvloop==$uvloop_version"
    "$venv_python" -m pip install --quiet "uvloop==$uvloop_version" >&2
    venv_is_ready || { log "uvloop $uvloop_version still not importable from $venv_python"; exit 1; }
fi

echo "$venv_python"
