#!/usr/bin/env bash
# Installs what the real control plane of the tests needs and builds kube-apiserver once.
#
# etcd comes from Debian's etcd-server. kube-apiserver 1.20.2 is built from Debian's
# `kubernetes` source package: Debian ships no apiserver binary, and no other registry may be
# reached from here. The vendored modern-go/reflect2 1.0.1 crashes under Go 1.18+ (SIGSEGV in
# map iteration when a custom resource is written), so it is replaced with Debian's 1.0.2 first.
#
# The binary is cached in $CUTOVER_CACHE (default ~/.cache/cutover) so a second run is instant.
# Prints the path of the kube-apiserver binary as its last line.
set -euo pipefail

cache="${CUTOVER_CACHE:-$HOME/.cache/cutover}"
bin="$cache/kube-apiserver-1.20.2"
mkdir -p "$cache"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v jq >/dev/null 2>&1 || need_pkgs+=(jq)
if [ ! -x "$bin" ]; then
  command -v go >/dev/null 2>&1 || need_pkgs+=(golang-go)
  command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
  command -v dpkg-source >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need_pkgs+=(golang-github-modern-go-reflect2-dev)
fi

if [ "${#need_pkgs[@]}" -gt 0 ] || { [ ! -x "$bin" ] && ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; }; then
  if [ ! -x "$bin" ] && ! grep -rqs 'deb-src' /etc/apt/sources.list.d/cutover-src.list 2>/dev/null; then
    echo "deb-src http://deb.debian.org/debian bookworm main" | as_root tee /etc/apt/sources.list.d/cutover-src.list >/dev/null
  fi
  echo "control plane: installing ${need_pkgs[*]:-source index}" >&2
  as_root apt-get update -qq >&2
  if [ "${#need_pkgs[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
  fi
fi

if [ ! -x "$bin" ]; then
  echo "control plane: building kube-apiserver 1.20.2 from Debian's source (about 4 minutes on two cores, once)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get source -qq --download-only kubernetes >&2 && dpkg-source -x --skip-patches ./kubernetes_*.dsc src >&2) \
    || (cd "$work" && apt-get source -qq kubernetes >&2 && mv "$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)" src)
  tree="$work/src"
  # Debian's patches make the tree build with Debian's packaging; apply them when not applied yet.
  if [ -d "$tree/debian/patches" ] && [ -f "$tree/debian/patches/series" ] && [ ! -d "$tree/.pc" ]; then
    (cd "$tree" && while read -r p; do
      case "$p" in ''|'#'*) continue ;; esac
      patch -p1 -s -N < "debian/patches/$p" >&2 || true
    done < debian/patches/series)
  fi
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  mkdir -p "$work/gopath/src/k8s.io"
  ln -s "$tree" "$work/gopath/src/k8s.io/kubernetes"
  (cd "$work/gopath/src/k8s.io/kubernetes" \
    && GOPATH="$work/gopath" GO111MODULE=off GOFLAGS=-mod=vendor GOCACHE="$cache/go-build" \
       KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean \
       make WHAT=cmd/kube-apiserver >&2)
  built="$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x | head -n1)"
  [ -n "$built" ] || { echo "control plane: kube-apiserver build produced no binary" >&2; exit 1; }
  cp "$built" "$bin.tmp" && mv "$bin.tmp" "$bin"
fi

"$bin" --version >&2
echo "$bin"
