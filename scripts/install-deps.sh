#!/usr/bin/env bash
# Installs what building and testing kairos needs on a Debian machine with
# Rust: system packages (apt), the Python oracles some tests compare with,
# and the rustfmt/clippy components. Safe to run again: installs only what is
# missing. Run as root (or with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# System packages the workspace needs (keep in sync with the crates):
# - pkg-config, libclang-dev, clang: bindgen for libmdbx / libpff
# - libpff-dev: PST/OST reader (kairos-exchange); pff-tools, libesedb-utils: oracles in tests
# - fuse3, libfuse3-dev: `kairos shim` / `kairos mount`
# - sqlite3, qemu-utils, postgresql: real writers in the capture tests
PKGS=(pkg-config libclang-dev clang libpff-dev libbfio-dev pff-tools libesedb-utils fuse3 libfuse3-dev sqlite3 qemu-utils postgresql util-linux)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ci: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Python oracles used by the ESE writer tests (an independent ESE reader and
# an [MS-OXRTFCP] decompressor).
if ! python3 -c 'import dissect.esedb, compressed_rtf' 2>/dev/null; then
  echo "ci: installing python oracles"
  python3 -m pip install --quiet --disable-pip-version-check dissect.esedb==3.18 dissect.util==3.24 dissect.cstruct==4.7 compressed-rtf==1.0.7 \
    || python3 -m pip install --quiet --break-system-packages dissect.esedb==3.18 dissect.util==3.24 dissect.cstruct==4.7 compressed-rtf==1.0.7
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

