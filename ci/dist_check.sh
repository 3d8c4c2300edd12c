#!/usr/bin/env bash
# `make dist-check`: install the wheel in dist/ as a dependency, the way a user's project does,
# and use it. A CLEAN venv (no system site-packages) gets torch and torchvision (the releases
# on this machine's disk, as `make venv` installs them), then ci/downstream, a project that
# declares `dependencies = ["histomammo[plot]"]`, with `--find-links dist/`, so pip resolves
# histomammo to the wheel just built. Its script then runs from a folder outside the
# repository, with no PYTHONPATH, and checks that histomammo comes from that venv.
#
# usage: ci/dist_check.sh [PYTHON]   (default python3; run `make dist` first)
# KEEP=1 keeps the work folder (venv, logs) for a look afterwards.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${1:-python3}
start=$(date +%s)
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP VIRTUAL_ENV

"$python" "$repo/ci/check_dist_contents.py" "$repo/dist"
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/histomammo/__init__.py")

# The venv holds ~6 GB (torch's CUDA libraries); on a busy disk writing and deleting it takes
# minutes, in memory seconds: /dev/shm when it and the memory have room, else $TMPDIR.
# DIST_CHECK_DIR=FOLDER chooses.
kib_free() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 {print $4}'; }
mem_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
root=${DIST_CHECK_DIR:-${TMPDIR:-/tmp}}
if [[ -z "${DIST_CHECK_DIR:-}" && -w /dev/shm && $(kib_free /dev/shm || echo 0) -gt 8000000
      && ${mem_kib:-0} -gt 12000000 ]]; then
    root=/dev/shm
fi
work=$(mktemp -d "$root/histomammo-dist-check.XXXXXX")
if [[ -z "${KEEP:-}" ]]; then trap 'rm -rf "$work"' EXIT; else echo "work folder: $work"; fi
stage() { echo "== $1 ($(( $(date +%s) - start )) s)"; }

stage "clean venv in $work/venv"
"$python" -m venv "$work/venv"  # no --system-site-packages
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check)
install=("${pip[@]}" install --quiet --no-compile)  # no byte-compiling of all torch: faster
stage "torch==2.14.1 torchvision==0.29.1"
"${install[@]}" torch==2.14.1 torchvision==0.29.1

stage "ci/downstream, histomammo $version from $repo/dist"
cp -r "$repo/ci/downstream" "$work/downstream"  # build it there: nothing lands in the repo
"${install[@]}" --only-binary histomammo --find-links "$repo/dist" "$work/downstream"
"${pip[@]}" check
installed=$("$work/venv/bin/python" -c 'from importlib.metadata import version; print(version("histomammo"))')
[[ "$installed" == "$version" ]] || { echo "installed histomammo $installed, built $version"; exit 1; }

stage "the downstream script, run from $work/run"
mkdir "$work/run"
(cd "$work/run" && "$work/venv/bin/histomammo-downstream-check" "$repo")
stage "dist-check passed"
