#!/usr/bin/env bash
# Debian packages the tests use as real peers: socat (pseudo-terminal pairs for serial framing),
# mbpoll (an independent Modbus master), mosquitto (a real MQTT broker), chromium (the status page),
# systemd (systemd-analyze verify/security of the unit, systemd-notify), python3 (a notify-socket receiver),
# postgresql (the fleet ingest's database: the tests run a throwaway cluster of their own),
# tzdata (the zone files the daemon reads the room's local time from, as on the Pi).
set -euo pipefail
need=()
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v mbpoll >/dev/null 2>&1 || need+=(mbpoll)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -e /usr/share/zoneinfo/Europe/Berlin ] || need+=(tzdata)
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian packages the tests need: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # the mosquitto package starts a system broker on :1883; the tests run their own on free ports
  # and the postgresql package its cluster on :5432 (likewise)
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; systemctl disable --now postgresql >/dev/null 2>&1 || true; fi
else
  echo "The tests need these Debian packages: ${need[*]}" >&2
  echo "Install them with:  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
