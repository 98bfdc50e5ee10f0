# shellcheck shell=bash
# Sets kcheck up on the GPU image of docs/gpu-runs.md (torch 2.11, triton 3.6, numpy and Python
# 3.12 there; no helion and none of kcheck's pure-Python pins). Source it from the checkout, with
# the wheels of .whl/ carried along:
#
#     source ci/device-setup.sh || exit 1
#
# It installs .whl/*.whl (helion 1.4.0, kcheck's pinned pure-Python dependencies and theirs; see
# docs/gpu-runs.md for how they were downloaded) and then this checkout (no dependencies, no
# build isolation: nothing can be fetched there) into $KCHECK_SITE (default /tmp/site), exports
# PYTHONPATH and PATH so that `python3 -m checker.cli`, `kcheck` and pytest find them, and prints
# the versions. The checkout is installed, not only put on PYTHONPATH, so that its pytest11 entry
# point exists: pytester's inner runs (tests/test_gpu.py) load the plugin by it. $PYTHON is the
# interpreter (default python3). Returns 1 when the wheels do not install or the plugin does not
# import; when only the checkout does not install, it warns and puts the checkout on PYTHONPATH.

_kcheck_device_setup() {
    local root site py wheels tree=""
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || return 1
    site=${KCHECK_SITE:-/tmp/site}
    py=${PYTHON:-python3}
    wheels=("$root"/.whl/*.whl)
    if [[ ! -e ${wheels[0]} ]]; then
        echo "device-setup: no wheels in $root/.whl (name .whl in the device call's carry)" >&2
        return 1
    fi
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" "${wheels[@]}" || return 1
    if ! "$py" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir \
        --upgrade --target "$site" "$root"; then
        # kcheck run still works from the source tree (it loads the plugin by module name then);
        # only pytester-based tests need the entry point.
        echo "device-setup: installing the checkout failed; using $root from PYTHONPATH" >&2
        tree=$root
    fi
    export PYTHONPATH="$site${tree:+:$tree}${PYTHONPATH:+:$PYTHONPATH}"
    export PATH="$site/bin:$PATH"
    "$py" - <<'EOF' || return 1
import importlib.metadata as md
import sys

print("python", sys.version.split()[0], sys.executable)
for name in ("torch", "triton", "numpy", "helion", "kcheck", "pytest", "pytest-xdist", "pytest-timeout",
             "pytest-split", "filecheck", "rich", "junitparser", "liger-kernel", "fla-core", "einops",
             "PyGithub"):
    try:
        dist = md.distribution(name)
        print(f"  {name} {dist.version}  ({dist.locate_file('')})")
    except md.PackageNotFoundError:
        print(f"  {name} MISSING")
plugins = [ep.value for ep in md.entry_points(group="pytest11") if ep.name == "kcheck"]
import checker.plugin  # noqa: F401  (imports helion, torch, triton: fails here if one is broken)

print("  pytest11 entry point kcheck:", plugins or "MISSING", "; checker from", checker.plugin.__file__)
EOF
}

_kcheck_device_setup
_kcheck_rc=$?
unset -f _kcheck_device_setup
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    echo "device-setup: run, not sourced: PYTHONPATH and PATH are not set in your shell" >&2
    exit "$_kcheck_rc"
fi
return "$_kcheck_rc"
