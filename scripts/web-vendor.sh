#!/usr/bin/env bash
# Puts the @stomp/stompjs browser bundle where the gateway serves it:
#   src/Gateway/wwwroot/vendor/stomp.umd.min.js   (+ stomp.LICENSE, Apache-2.0)
# The example page at / loads it from /vendor/; nothing is fetched by the browser
# from the internet. The version is pinned here; change STOMPJS_VERSION and delete
# the vendor folder to move to another one.
#
# Idempotent: when the bundle is already there, it does nothing.
# Needs npm (which reaches the npm registry) only when the bundle is missing.
set -euo pipefail

STOMPJS_VERSION="7.5.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor_dir="$repo_root/src/Gateway/wwwroot/vendor"
bundle="$vendor_dir/stomp.umd.min.js"
license="$vendor_dir/stomp.LICENSE"

if [[ -s "$bundle" && -s "$license" ]]; then
    echo "web-vendor: $bundle already present, nothing to do"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "web-vendor: error: npm is not on PATH; it is needed once to fetch @stomp/stompjs@$STOMPJS_VERSION." >&2
    echo "web-vendor: install Node.js and npm (Debian: apt-get install -y nodejs npm) and run this script again." >&2
    exit 1
fi
if ! command -v tar >/dev/null 2>&1; then
    echo "web-vendor: error: tar is not on PATH" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/web-vendor.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "web-vendor: fetching @stomp/stompjs@$STOMPJS_VERSION with npm pack"
if ! tarball="$(cd "$work" && npm pack --silent "@stomp/stompjs@$STOMPJS_VERSION")"; then
    echo "web-vendor: error: 'npm pack @stomp/stompjs@$STOMPJS_VERSION' failed (is the npm registry reachable?)" >&2
    exit 1
fi
tarball="$(printf '%s\n' "$tarball" | tail -n 1)"
if [[ ! -f "$work/$tarball" ]]; then
    echo "web-vendor: error: npm pack did not leave the expected tarball ($tarball) in $work" >&2
    exit 1
fi

tar -xzf "$work/$tarball" -C "$work" package/bundles/stomp.umd.min.js package/LICENSE package/package.json

packed_version="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$work/package/package.json" | head -n 1)"
if [[ "$packed_version" != "$STOMPJS_VERSION" ]]; then
    echo "web-vendor: error: the tarball holds version '$packed_version', expected $STOMPJS_VERSION" >&2
    exit 1
fi
if [[ ! -s "$work/package/bundles/stomp.umd.min.js" ]]; then
    echo "web-vendor: error: package/bundles/stomp.umd.min.js missing or empty in the tarball" >&2
    exit 1
fi

mkdir -p "$vendor_dir"
# Write under temporary names and rename, so an interrupted run never leaves a half file
# that the "already present" test above would accept.
cp "$work/package/LICENSE" "$license.tmp"
cp "$work/package/bundles/stomp.umd.min.js" "$bundle.tmp"
mv -f "$license.tmp" "$license"
mv -f "$bundle.tmp" "$bundle"

echo "web-vendor: wrote $bundle ($(wc -c <"$bundle") bytes, @stomp/stompjs $STOMPJS_VERSION) and $license"
