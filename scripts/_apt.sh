# Shared by scripts/test and scripts/bench: install the Debian packages they
# need when missing, as root, without letting a package start its daemon.
# shellcheck shell=bash

_apt_prog="scripts/$(basename "$0")"

# apt-get install without letting the package start its daemon: the tests
# and the bench start the servers they need themselves.
apt_install() {
  local policy_added=no status=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=yes
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 || {
    apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
  } || status=$?
  if [ "$policy_added" = yes ]; then rm -f /usr/sbin/policy-rc.d; fi
  return "$status"
}

ensure_redis_server() {
  if command -v redis-server >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" != "0" ]; then
    echo "$_apt_prog: redis-server is not installed; install it (Debian: apt-get install redis-server) and run again" >&2
    exit 1
  fi
  local was_listening=no
  if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then was_listening=yes; fi
  echo "$_apt_prog: installing redis-server (apt-get)" >&2
  apt_install redis-server || true
  # Stop a Redis that the package started on 6379, but only one we started.
  if [ "$was_listening" = no ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    redis-cli -p 6379 shutdown nosave >/dev/null 2>&1 || true
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "$_apt_prog: apt-get did not provide redis-server; install it and run again" >&2
    exit 1
  fi
}

# An optional tool from a Debian package: installed when missing and running
# as root; otherwise (or when apt-get fails) the caller goes on without it
# after `why` is printed. ensure_optional TOOL PACKAGE WHY
ensure_optional() {
  local tool="$1" package="$2" why="$3"
  if command -v "$tool" >/dev/null 2>&1 || [ "$(id -u)" != "0" ]; then
    return 0
  fi
  echo "$_apt_prog: installing $tool (apt-get install $package)" >&2
  apt_install "$package" || echo "$_apt_prog: $tool unavailable; $why" >&2
}

# Node.js >= 18 (Debian package "nodejs") for the Node client's tests
# (tests/clients/ runs `node --test clients/node/test/...`): installed when
# missing and running as root, as redis-server is.
ensure_node() {
  if ! command -v node >/dev/null 2>&1; then
    if [ "$(id -u)" != "0" ]; then
      echo "$_apt_prog: node is not installed; install it (Debian: apt-get install nodejs) and run again" >&2
      exit 1
    fi
    echo "$_apt_prog: installing node (apt-get install nodejs)" >&2
    apt_install nodejs || true
  fi
  if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' 2>/dev/null; then
    echo "$_apt_prog: the Node client needs node >= 18 (global fetch, node --test); found: $(node --version 2>&1 || echo none)" >&2
    exit 1
  fi
}
