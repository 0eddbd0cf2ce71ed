#!/usr/bin/env bash
# Builds the gatewatch image with podman where no registry is reachable (root only):
# the base is localhost/gatewatch-base:bookworm from base-image.sh unless BASE is given.
#
#   deploy/container/build-image.sh [TAG]      (default localhost/gatewatch:latest)
#
# podman here needs runc (crun fails on cgroups hybrid mode) and lowered ulimits (setrlimit is
# refused above the host's hard limit). The build stage is tagged TAG-build so its apt layer stays
# cached between builds; superseded gatewatch images are pruned, nothing else.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tag=${1:-localhost/gatewatch:latest}
base=${BASE:-localhost/gatewatch-base:bookworm}
if [ "$base" = localhost/gatewatch-base:bookworm ]; then
  deploy/container/base-image.sh "$base"
fi
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
build=(podman --runtime /usr/sbin/runc build --network=host --ulimit nofile=1024:1024
  --ulimit nproc=1024:1024 --build-arg BASE="$base" --build-arg REVISION="$revision"
  --label io.gatewatch.image=1 -f deploy/Dockerfile)
"${build[@]}" --target build -t "$tag-build" .
"${build[@]}" -t "$tag" .
podman image prune -f --filter label=io.gatewatch.image=1 >/dev/null
