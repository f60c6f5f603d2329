#!/usr/bin/env bash
# npm run test:package [-- arm64|amd64 ...]: builds the package for each architecture (default
# arm64, the Pi's; its daemon then runs under qemu-user here), makes a copy with a higher
# version for the upgrade, and runs test/package/install.test.ts on them: dpkg --root into a
# scratch root, the daemon from there against the simulator, upgrade, newer-schema refusal.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ARCHES=("$@")
[ "${#ARCHES[@]}" -gt 0 ] || ARCHES=(arm64)
OUT="$(mktemp -d "${TMPDIR:-/tmp}/laundry-deb-test.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
VERSION="$(node -p "require('./package.json').version")"
# Uncompressed: the test unpacks it at once, xz would only cost minutes here.
PKG_OUT="$OUT" PKG_COMPRESS=none bash scripts/package/build.sh "${ARCHES[@]}"
for arch in "${ARCHES[@]}"; do
  deb="$OUT/laundry-gateway_${VERSION}_${arch}.deb"
  next="$OUT/laundry-gateway_${VERSION}.1_${arch}.deb"
  x="$OUT/next-$arch"
  dpkg-deb -R "$deb" "$x"
  sed -i "s/^Version: .*/Version: ${VERSION}.1/" "$x/DEBIAN/control"
  dpkg-deb --root-owner-group -Znone --build "$x" "$next" >/dev/null
  rm -rf "$x"
  echo "== install test of the $arch package"
  # an arm64 Node finds its C library here under qemu-user (unused on a real arm64 machine)
  QEMU_LD_PREFIX=/usr/aarch64-linux-gnu LAUNDRY_DEB="$deb" LAUNDRY_DEB_NEXT="$next" \
    node --import tsx --test --test-reporter=spec test/package/install.test.ts
done
