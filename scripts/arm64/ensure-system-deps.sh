#!/usr/bin/env bash
# What running arm64 code on an x64 machine needs: Debian's qemu-user-static (runs arm64 ELF
# binaries without a VM), the arm64 C and C++ runtime libraries (the sysroot qemu loads them
# from) and the cross compiler (builds the native addons for arm64). And one kernel setting:
# the binfmt_misc entry for arm64 ELF files, so that an arm64 node started under qemu can
# start children (the test runner, the daemon, crash children) with process.execPath like on a
# real Pi. Debian's package registers it on a machine whose binfmt_misc is mounted; containers
# and small VMs often do not mount it, so it is mounted and registered here when missing.
set -euo pipefail
need=()
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross)
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || need+=(g++-aarch64-linux-gnu)
root=no
if [ "$(id -u)" -eq 0 ]; then root=yes; fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$root" = yes ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian packages for arm64 under emulation: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "arm64 under emulation needs these Debian packages: ${need[*]}" >&2
    echo "Install them with:  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e "$BINFMT/qemu-aarch64" ]; then
  if [ "$root" = yes ]; then
    [ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT"
    # Debian's own entry: flags F (the interpreter is opened now, so it works in any root) and
    # P (argv[0] kept), interpreter qemu-aarch64-static.
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > "$BINFMT/register"
  else
    echo "arm64 ELF files are not registered with binfmt_misc; as root run:" >&2
    echo "  mount -t binfmt_misc binfmt_misc $BINFMT 2>/dev/null; cat /usr/lib/binfmt.d/qemu-aarch64.conf > $BINFMT/register" >&2
    exit 1
  fi
fi
