#!/usr/bin/env bash
# Builds self-contained releases of the gateway for the appliance's boards:
#   ./publish.sh [rid ...]     (default: linux-arm64 linux-arm linux-x64)
# Output: publish/<rid>/ with the program, firmware-config/ and the systemd unit, and a tarball beside it.
set -euo pipefail
cd "$(dirname "$0")"
rids=("$@")
[ ${#rids[@]} -gt 0 ] || rids=(linux-arm64 linux-arm linux-x64)
./scripts/web-vendor.sh   # the example page's STOMP library, served from the appliance itself
for rid in "${rids[@]}"; do
  out="publish/$rid"
  echo "publish.sh: building $rid -> $out"
  rm -rf "$out"
  dotnet publish src/Gateway -c Release -r "$rid" --self-contained true \
    -p:InvariantGlobalization=true -p:PublishSingleFile=false -o "$out" --nologo -v quiet
  mkdir -p "$out/firmware-config"
  cp -r firmware-config/. "$out/firmware-config/"
  tar -C publish -czf "publish/edge-gateway-$rid.tar.gz" "$rid"
  echo "publish.sh: publish/edge-gateway-$rid.tar.gz"
done
