#!/usr/bin/env bash
# Installs what the real control plane of the tests needs, and builds kube-apiserver once.
#
# etcd comes from Debian's etcd-server. kube-apiserver 1.20.2 is built from Debian's
# `kubernetes` source package: Debian ships no apiserver binary, and no other registry may be
# reached from here. The vendored modern-go/reflect2 1.0.1 crashes under Go 1.18+ (SIGSEGV in
# map iteration when a custom resource is written), so it is replaced with Debian's 1.0.2.
#
# The binary is cached in $CUTOVER_CACHE (default ~/.cache/cutover): a second run takes a
# second. Progress goes to stderr; the last line on stdout is the binary's path.
set -euo pipefail

cache="${CUTOVER_CACHE:-$HOME/.cache/cutover}"
bin="$cache/kube-apiserver-1.20.2"
mkdir -p "$cache"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=()
command -v etcd >/dev/null 2>&1 || packages+=(etcd-server)
# The machine image ships kubectl 1.32; Debian's own client (1.20) is the fallback.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
# Argo CD runs its health checks in Lua 5.1 (gopher-lua): tests/tests/argocd.rs runs ours in it.
command -v lua5.1 >/dev/null 2>&1 || packages+=(lua5.1)
# promtool checks and unit-tests the alert rules (tests/tests/alerts.rs).
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
if [ ! -x "$bin" ]; then
  command -v go >/dev/null 2>&1 || packages+=(golang-go)
  command -v rsync >/dev/null 2>&1 || packages+=(rsync)
  command -v jq >/dev/null 2>&1 || packages+=(jq)
  command -v dpkg-source >/dev/null 2>&1 || packages+=(dpkg-dev)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || packages+=(golang-github-modern-go-reflect2-dev)
fi

need_sources=false
if [ ! -x "$bin" ] && ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb-src http://deb.debian.org/debian bookworm main" | as_root tee /etc/apt/sources.list.d/cutover-deb-src.list >/dev/null
  need_sources=true
fi

if [ "${#packages[@]}" -gt 0 ] || $need_sources; then
  echo "control plane: apt-get install ${packages[*]:-(source index only)}" >&2
  as_root apt-get update -qq >&2
  if [ "${#packages[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
  fi
fi

if [ ! -x "$bin" ]; then
  echo "control plane: building kube-apiserver 1.20.2 from Debian's source, once (about 4 minutes on two cores)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get source -qq kubernetes >&2)
  tree="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)"
  [ -n "$tree" ] || { echo "control plane: apt-get source kubernetes unpacked nothing" >&2; exit 1; }
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  mkdir -p "$work/gopath/src/k8s.io"
  ln -s "$tree" "$work/gopath/src/k8s.io/kubernetes"
  (cd "$work/gopath/src/k8s.io/kubernetes" \
    && GOPATH="$work/gopath" GO111MODULE=off GOFLAGS=-mod=vendor \
       KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean \
       make WHAT=cmd/kube-apiserver >&2)
  built="$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x | head -n 1)"
  [ -n "$built" ] || { echo "control plane: the build produced no kube-apiserver" >&2; exit 1; }
  cp "$built" "$bin.partial" && mv "$bin.partial" "$bin"
fi

"$bin" --version >&2
echo "$bin"
