#!/usr/bin/env bash
# Builds the real control plane kite's tests run against (kube-apiserver, kube-scheduler,
# kube-controller-manager, etcd, and kubectl) from Go modules, once per version, into a cache
# outside the checkout. Prints the folder of the binaries. Skips the build when they exist.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kube="$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/go.mod")"
etcd="$(sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$/\1/p' "$here/etcd/go.mod")"
cache="${KITE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kite-test}"
bin="$cache/k8s-$kube-etcd-$etcd/bin"
programs=(kube-apiserver kube-scheduler kube-controller-manager kubectl etcd)
missing=0
for p in "${programs[@]}"; do [ -x "$bin/$p" ] || missing=1; done
if [ "$missing" = 1 ]; then
    # one build at a time: a second caller waits for the first, then finds the binaries
    mkdir -p "$cache"
    exec 9>"$cache/build.lock"
    if ! flock -n 9; then
        echo "build.sh: waiting for another build of the control plane to finish" >&2
        flock -w 3600 9 || { echo "build.sh: the other build did not finish within 1 h" >&2; exit 1; }
    fi
    missing=0
    for p in "${programs[@]}"; do [ -x "$bin/$p" ] || missing=1; done
fi
if [ "$missing" = 1 ]; then
    command -v go >/dev/null || { echo "build.sh: go is not installed (apt-get install golang-go)" >&2; exit 1; }
    mkdir -p "$bin.part"
    echo "building Kubernetes $kube and etcd $etcd into $bin (once; a few minutes)" >&2
    minor="${kube#v1.}"; minor="${minor%%.*}"
    stamp="k8s.io/component-base/version"  # what /version and --version report
    flags="-X $stamp.gitVersion=$kube -X $stamp.gitMajor=1 -X $stamp.gitMinor=$minor"
    flags="$flags -X $stamp.gitTreeState=clean"
    (cd "$here" && go build -ldflags "$flags" -o "$bin.part/" k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kubectl)
    (cd "$here/etcd" && go build -o "$bin.part/etcd" go.etcd.io/etcd/server/v3)
    rm -rf "$bin" && mv "$bin.part" "$bin"
fi
echo "$bin"
