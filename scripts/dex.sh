#!/usr/bin/env bash
# Builds Dex, the OpenID Connect provider the SSO tests sign in through,
# once, and prints the binary's path. v2.45.1 builds from its
# pseudo-version (the module's @latest is a 2018 release that no longer
# builds); about 2 minutes cold on 2 cores, then cached in $CACHE.
set -euo pipefail
version=v0.0.0-20260303133905-11d2eeb52b42 # Dex v2.45.1
cache=${CACHE:-/var/tmp/usagelog-dex}
bin=$cache/dex-$version
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/dexidp/dex@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
  cp -r "$dir" "$work/dex"
  chmod -R u+w "$work/dex"
  (cd "$work/dex" && go mod edit -dropreplace=github.com/dexidp/dex/api/v2 && go build -mod=mod -o "$bin.tmp" ./cmd/dex) >&2
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
