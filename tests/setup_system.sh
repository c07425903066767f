#!/usr/bin/env bash
# System packages the test suite needs beyond pip: slurm-wlm and munge for the SLURM test
# (tests/test_slurm.py starts its own single-node cluster). Installs only what is missing; as
# root it uses apt-get, otherwise it says what to install and leaves it to you.
set -euo pipefail
packages=()
command -v slurmctld >/dev/null || packages+=(slurm-wlm)
command -v munged >/dev/null || packages+=(munge)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "tests/setup_system.sh: install ${packages[*]} (Debian packages) as root for the SLURM test" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
