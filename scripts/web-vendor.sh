#!/usr/bin/env bash
# Puts the browser bundles the gateway's pages use where the gateway serves them:
#   src/Gateway/wwwroot/vendor/stomp.umd.min.js  (+ stomp.LICENSE, Apache-2.0)  the message view
#   src/Gateway/wwwroot/vendor/uPlot.iife.min.js, uPlot.min.css  (+ uPlot.LICENSE, MIT)  the dashboard's charts
# The pages load them from /vendor/; nothing is fetched by the browser from the internet.
# Versions are pinned here; change one and delete the vendor folder to move to another.
#
# Idempotent: a bundle already there is left alone.
# Needs npm (which reaches the npm registry) only when a bundle is missing.
set -euo pipefail

STOMPJS_VERSION="7.5.0"
UPLOT_VERSION="1.6.32"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor_dir="$repo_root/src/Gateway/wwwroot/vendor"

# vendor PACKAGE VERSION LICENSE_NAME SOURCE:TARGET...  (SOURCE inside the package, TARGET in vendor/)
vendor() {
    local package="$1" version="$2" license="$vendor_dir/$3"
    shift 3
    local missing=0 pair
    for pair in "$@"; do [[ -s "$vendor_dir/${pair#*:}" ]] || missing=1; done
    [[ -s "$license" ]] || missing=1
    if [[ $missing -eq 0 ]]; then
        echo "web-vendor: $package $version already present, nothing to do"
        return 0
    fi

    if ! command -v npm >/dev/null 2>&1; then
        echo "web-vendor: error: npm is not on PATH; it is needed once to fetch $package@$version." >&2
        echo "web-vendor: install Node.js and npm (Debian: apt-get install -y nodejs npm) and run this script again." >&2
        exit 1
    fi
    if ! command -v tar >/dev/null 2>&1; then
        echo "web-vendor: error: tar is not on PATH" >&2
        exit 1
    fi

    local work tarball packed_version
    work="$(mktemp -d "${TMPDIR:-/tmp}/web-vendor.XXXXXX")"
    echo "web-vendor: fetching $package@$version with npm pack"
    if ! tarball="$(cd "$work" && npm pack --silent "$package@$version")"; then
        echo "web-vendor: error: 'npm pack $package@$version' failed (is the npm registry reachable?)" >&2
        rm -rf "$work"
        exit 1
    fi
    tarball="$(printf '%s\n' "$tarball" | tail -n 1)"
    if [[ ! -f "$work/$tarball" ]]; then
        echo "web-vendor: error: npm pack did not leave the expected tarball ($tarball) in $work" >&2
        rm -rf "$work"
        exit 1
    fi
    local members=(package/LICENSE package/package.json)
    for pair in "$@"; do members+=("package/${pair%%:*}"); done
    tar -xzf "$work/$tarball" -C "$work" "${members[@]}"

    packed_version="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$work/package/package.json" | head -n 1)"
    if [[ "$packed_version" != "$version" ]]; then
        echo "web-vendor: error: the tarball holds $package version '$packed_version', expected $version" >&2
        rm -rf "$work"
        exit 1
    fi

    mkdir -p "$vendor_dir"
    # Write under temporary names and rename, so an interrupted run never leaves a half file
    # that the "already present" test above would accept.
    for pair in "$@"; do
        local source="$work/package/${pair%%:*}" target="$vendor_dir/${pair#*:}"
        if [[ ! -s "$source" ]]; then
            echo "web-vendor: error: ${pair%%:*} missing or empty in the $package tarball" >&2
            rm -rf "$work"
            exit 1
        fi
        cp "$source" "$target.tmp"
        mv -f "$target.tmp" "$target"
        echo "web-vendor: wrote $target ($(wc -c <"$target") bytes, $package $version)"
    done
    cp "$work/package/LICENSE" "$license.tmp"
    mv -f "$license.tmp" "$license"
    rm -rf "$work"
}

vendor "@stomp/stompjs" "$STOMPJS_VERSION" stomp.LICENSE bundles/stomp.umd.min.js:stomp.umd.min.js
vendor uplot "$UPLOT_VERSION" uPlot.LICENSE dist/uPlot.iife.min.js:uPlot.iife.min.js dist/uPlot.min.css:uPlot.min.css
