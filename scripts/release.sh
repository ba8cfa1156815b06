#!/usr/bin/env bash
# Builds the release binaries of VERSION into dist/: static (CGO_ENABLED=0,
# the pure-Go SQLite), for linux/amd64, linux/arm64, darwin/amd64,
# darwin/arm64 and windows/amd64, with the version, commit and date stamped
# (usagelog version), and dist/SHA256SUMS.
#   scripts/release.sh v0.9.0            every target
#   TARGETS=linux/amd64 scripts/release.sh v0.9.0
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/release.sh VERSION (such as v0.9.0)}
case "$version" in v[0-9]*) ;; *) echo "release: VERSION must look like v1.2.3, not $version" >&2; exit 2 ;; esac
targets=${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then commit="$commit-dirty"; fi
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/usagelog/usagelog/internal/buildinfo
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date"
out=${DIST:-dist}
rm -rf "$out"
mkdir -p "$out"
for t in $targets; do
  os=${t%/*} arch=${t#*/}
  dir="$out/usagelog_${version}_${os}_${arch}"
  exe=usagelog
  [ "$os" = windows ] && exe=usagelog.exe
  mkdir -p "$dir"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/usagelog
  cp README.md CHANGELOG.md "$dir/"
  if [ "$os" = windows ]; then
    (cd "$out" && zip -qr "$(basename "$dir").zip" "$(basename "$dir")")
  else
    tar -C "$out" -czf "$dir.tar.gz" "$(basename "$dir")"
  fi
  echo "built $dir/$exe"
done
(cd "$out" && shopt -s nullglob && sha256sum -- *.tar.gz *.zip > SHA256SUMS)
echo "checksums in $out/SHA256SUMS"
