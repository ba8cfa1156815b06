#!/usr/bin/env bash
# Checks the API description as tools nobody here wrote read it: the
# document as a running server serves it is linted by Redocly CLI
# (recommended rules, warnings as errors) and Spectral (spectral:oas, no
# warning), and two Go generators, ogen and oapi-codegen, generate a
# client from it that must compile. The oapi-codegen client must also be
# the one committed in internal/apiclient, which a test drives the server
# through. Needs Go and npm's npx (the registry); the tools are pinned.
# UPDATE_CLIENT=1 rewrites the committed client instead of comparing.
set -euo pipefail
cd "$(dirname "$0")/.."
redocly=@redocly/cli@2.77.0
spectral=@stoplight/spectral-cli@6.16.3
ogen=v1.25.0
oapi=v2.8.2

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/usagelog" ./cmd/usagelog
port=$((20000 + RANDOM % 20000))
"$work/usagelog" serve --data "$work/data" --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$port/api/v1/openapi.json" -o "$work/openapi.json" ||
  { echo "openapi-check: the server did not serve its description (see below)" >&2; cat "$work/serve.log" >&2; exit 1; }

echo "== Redocly CLI lint"
npx -y "$redocly" lint --config scripts/openapi/redocly.yaml "$work/openapi.json" 2>&1 | grep -v '[║╔╚]'
echo "== Spectral lint"
npx -y "$spectral" lint --fail-severity=warn -r scripts/openapi/spectral.yaml "$work/openapi.json"

echo "== ogen: generate and build"
mkdir -p "$work/ogen/api"
go run "github.com/ogen-go/ogen/cmd/ogen@$ogen" --target "$work/ogen/api" --package api --clean "$work/openapi.json" 2>"$work/ogen.log" ||
  { cat "$work/ogen.log" >&2; exit 1; }
(cd "$work/ogen" && go mod init gencheck >/dev/null 2>&1 && go get "github.com/ogen-go/ogen@$ogen" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1 && go build ./...)

echo "== oapi-codegen: generate, build, compare with internal/apiclient"
cat >"$work/oapi.yaml" <<CFG
package: apiclient
generate:
  client: true
  models: true
output: $work/client.gen.go
CFG
go run "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$oapi" -config "$work/oapi.yaml" "$work/openapi.json"
if [ -n "${UPDATE_CLIENT:-}" ]; then
  cp "$work/client.gen.go" internal/apiclient/client.gen.go
fi
if ! diff -q "$work/client.gen.go" internal/apiclient/client.gen.go >/dev/null; then
  echo "openapi-check: internal/apiclient/client.gen.go is not what oapi-codegen makes of the served description;" >&2
  echo "  run UPDATE_CLIENT=1 scripts/openapi-check.sh and commit it" >&2
  diff "$work/client.gen.go" internal/apiclient/client.gen.go | head -40 >&2
  exit 1
fi
go build ./internal/apiclient/
echo "openapi-check: ok"
