#!/usr/bin/env bash
# Installs a QEMU that has the `raspi4b` machine (QEMU >= 9), as root or with
# sudo: on Debian 12 (bookworm) from its backports suite, which setup.sh
# otherwise lacks; on other systems it says what to install and fails.
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "$codename" != bookworm ]; then
    echo "the virtual Pi 4 needs qemu-system-aarch64 >= 9 (machine raspi4b); install it from your distribution" >&2
    exit 1
fi
list=/etc/apt/sources.list.d/bookworm-backports.sources
if ! apt-get indextargets --format '$(RELEASE)' 2>/dev/null | grep -qx bookworm-backports; then
    # The backports suite lives beside the main one: take the mirror this machine already uses.
    mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null | awk '$2 == "bookworm" { print $1; exit }')
    if [ -z "$mirror" ]; then
        echo "no apt source for bookworm found; add bookworm-backports and install qemu-system-arm from it" >&2
        exit 1
    fi
    echo "adding Debian's bookworm-backports suite from $mirror ($list)" >&2
    printf '%s\n' 'Types: deb' "URIs: $mirror" 'Suites: bookworm-backports' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
        "${SUDO[@]}" tee "$list" >/dev/null
fi
echo "installing qemu-system-arm from bookworm-backports (QEMU 10, for raspi4b)" >&2
"${SUDO[@]}" apt-get update -qq
# qemu-user comes along so that user mode (the NEON kernel tests) stays at the same version.
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-arm qemu-user >/dev/null
qemu-system-aarch64 -machine help | grep -q '^raspi4b ' || {
    echo "installed QEMU still lacks raspi4b: $(qemu-system-aarch64 --version | head -1)" >&2
    exit 1
}
