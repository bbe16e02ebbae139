#!/usr/bin/env bash
# Installs Debian packages, as root or with sudo (setup.sh and fuzz.sh call
# it with what they found missing; nothing to do without arguments).
#
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
[ $# -gt 0 ] || exit 0
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "need root or sudo to install: $*" >&2
    exit 1
fi
echo "installing $*" >&2
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
