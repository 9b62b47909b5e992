#!/usr/bin/env bash
# Peers for the `rampart guard` side-by-side benchmark: nginx + libmodsecurity3 + OWASP CRS
# (Debian packages) as a blocking WAF reverse proxy, and the same nginx as a plain reverse proxy,
# both in front of an arbitrary upstream on 127.0.0.1.
#
#   scripts/guard-peers.sh install
#   scripts/guard-peers.sh start DIR UPSTREAM_PORT MODSEC_PORT PLAIN_PORT
#   scripts/guard-peers.sh stop DIR
#
# `install` apt-installs nginx, libnginx-mod-http-modsecurity, modsecurity-crs and wrk when any
# is missing (no recommends: they would add geoip-database), without letting the Debian nginx
# service start on port 80 (and stops/disables it if it was started anyway).
#
# `start` runs one nginx master from DIR/nginx.conf (pid, logs, temp paths all under DIR) with
# two servers on 127.0.0.1:
#   MODSEC_PORT  modsecurity on: modsecurity.conf-recommended (Debian: /etc/nginx/modsecurity.conf) with SecRuleEngine On (blocking),
#                request body access on, audit log off; then CRS at its defaults (paranoia level 1,
#                inbound anomaly threshold 5, outbound 4); a block is an HTTP 403.
#   PLAIN_PORT   the same proxying, no WAF.
# Detections go to DIR/logs/error.log. Access logs are off.
#
# Environment:
#   WORKERS             nginx worker_processes (default 2: one per core of the 2-core bench box;
#                       rampart guard's runtime also defaults to one worker thread per core).
#   MODSEC_AUDIT        Off (default) or On: ModSecurity's audit log, RelevantOnly, to
#                       DIR/logs/modsec_audit.log. The nginx connector writes only the blocking
#                       verdict (rule 949110 and the total score) to error.log; which CRS rules
#                       scored is only in the audit log. Unbounded: not for long benchmarks.
#   MODSEC_RESPONSE_BODY  SecResponseBodyAccess, On (the recommended file's value, lets CRS's
#                       RESPONSE-95x rules look at bodies) or Off (request-side inspection only).
set -euo pipefail

PKGS=(nginx libnginx-mod-http-modsecurity modsecurity-crs wrk)
MODSEC_SO=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
NDK_SO=/usr/lib/nginx/modules/ndk_http_module.so
# libnginx-mod-http-modsecurity ships ModSecurity's modsecurity.conf-recommended as
# /etc/nginx/modsecurity.conf (unicode.mapping beside it); /etc/modsecurity/ only holds CRS's
# files unless the Apache module's package is also installed.
MODSEC_RECOMMENDED=/etc/nginx/modsecurity.conf
CRS_SETUP=/etc/modsecurity/crs/crs-setup.conf
CRS_EXCL_BEFORE=/etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
CRS_EXCL_AFTER=/etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
CRS_RULES=/usr/share/modsecurity-crs/rules

die() { echo "guard-peers: $*" >&2; exit 1; }

usage() {
  sed -n 's/^#   \(scripts\/guard-peers.sh .*\)/\1/p' "$0" >&2
  exit 2
}

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

# Stop and disable the distribution's nginx service, whether or not systemd is PID 1.
stop_system_nginx() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  else
    update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
  if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    nginx -s stop -c /etc/nginx/nginx.conf >/dev/null 2>&1 || kill "$(cat /run/nginx.pid)" 2>/dev/null || true
  fi
}

cmd_install() {
  local missing=() p
  for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "guard-peers: already installed: ${PKGS[*]}"
    return 0
  fi
  echo "guard-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep postinst from starting nginx on port 80: a policy-rc.d that denies every start, only
  # for the duration of the install and only if the system has none of its own.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  local rc=0
  # `apt-get update` only when a candidate is unknown (no or stale package lists).
  if ! apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null 2>&1; then
    { apt-get update -q && apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}"; } || rc=$?
  fi
  [ "$own_policy" -eq 0 ] || rm -f "$policy"
  [ "$rc" -eq 0 ] || die "apt-get install failed ($rc)"
  stop_system_nginx
  for p in "${PKGS[@]}"; do installed "$p" || die "$p did not install"; done
  echo "guard-peers: installed"
}

crs_version() {
  dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null || echo unknown
}

# Waits up to ~10 s for an HTTP answer (any status) on 127.0.0.1:$1.
wait_port() {
  local i code
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null) || true
    [ "${code:-000}" != 000 ] && return 0
    sleep 0.1
  done
  return 1
}

cmd_start() {
  [ $# -eq 4 ] || usage
  local dir=$1 up=$2 msp=$3 plp=$4 p
  for p in "$up" "$msp" "$plp"; do
    if ! [[ "$p" =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then die "bad port: $p"; fi
  done
  for p in "$MODSEC_SO" "$MODSEC_RECOMMENDED" "$CRS_SETUP" "$CRS_RULES"; do
    [ -e "$p" ] || die "$p missing: run '$0 install' first"
  done
  command -v nginx >/dev/null || die "nginx missing: run '$0 install' first"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  cmd_stop "$dir" >/dev/null
  mkdir -p "$dir"/{logs,tmp/client,tmp/proxy,tmp/fastcgi,tmp/uwsgi,tmp/scgi}
  : >"$dir/logs/error.log"
  rm -f "$dir/logs/modsec_audit.log"

  local resp_body=${MODSEC_RESPONSE_BODY:-On}
  case "$resp_body" in On|Off) ;; *) die "MODSEC_RESPONSE_BODY must be On or Off" ;; esac
  local audit=Off
  case "${MODSEC_AUDIT:-Off}" in On) audit=RelevantOnly ;; Off) ;; *) die "MODSEC_AUDIT must be On or Off" ;; esac

  # modsecurity.conf-recommended, made blocking; the audit log off (disk stays bounded; the
  # detections still reach nginx's error log); the status engine off; its relative
  # unicode.mapping pinned to the directory it came from; tmp/data dirs under DIR.
  local base_dir
  base_dir=$(dirname "$MODSEC_RECOMMENDED")
  sed -e 's/^SecRuleEngine .*/SecRuleEngine On/' \
      -e 's/^SecRequestBodyAccess .*/SecRequestBodyAccess On/' \
      -e "s/^SecResponseBodyAccess .*/SecResponseBodyAccess $resp_body/" \
      -e "s/^SecAuditEngine .*/SecAuditEngine $audit/" \
      -e "s|^SecAuditLog .*|SecAuditLog $dir/logs/modsec_audit.log|" \
      -e 's/^SecStatusEngine .*/SecStatusEngine Off/' \
      -e "s|^SecUnicodeMapFile unicode.mapping|SecUnicodeMapFile $base_dir/unicode.mapping|" \
      -e "s|^SecTmpDir .*|SecTmpDir $dir/tmp|" \
      -e "s|^SecDataDir .*|SecDataDir $dir/tmp|" \
      "$MODSEC_RECOMMENDED" >"$dir/modsecurity.conf"
  grep -q '^SecRuleEngine On$' "$dir/modsecurity.conf" || die "could not set SecRuleEngine On"

  # CRS in the order of the package's owasp-crs.load: setup, exclusions before, rules,
  # exclusions after. crs-setup.conf as shipped leaves paranoia level 1 and thresholds 5/4.
  {
    echo "Include $dir/modsecurity.conf"
    echo "Include $CRS_SETUP"
    [ ! -e "$CRS_EXCL_BEFORE" ] || echo "Include $CRS_EXCL_BEFORE"
    echo "Include $CRS_RULES/*.conf"
    [ ! -e "$CRS_EXCL_AFTER" ] || echo "Include $CRS_EXCL_AFTER"
  } >"$dir/modsec-rules.conf"

  local workers=${WORKERS:-2}
  {
    [ ! -e "$NDK_SO" ] || echo "load_module $NDK_SO;"
    echo "load_module $MODSEC_SO;"
    cat <<EOF
worker_processes $workers;
daemon on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/client;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  client_max_body_size 1m;
  keepalive_requests 100000;
  upstream backend {
    server 127.0.0.1:$up;
    keepalive 64;
  }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host \$host;
  server {
    listen 127.0.0.1:$msp;
    modsecurity on;
    modsecurity_rules_file $dir/modsec-rules.conf;
    location / { proxy_pass http://backend; }
  }
  server {
    listen 127.0.0.1:$plp;
    location / { proxy_pass http://backend; }
  }
}
EOF
  } >"$dir/nginx.conf"

  echo "guard-peers: OWASP CRS $(crs_version) (Debian modsecurity-crs), libmodsecurity3 $(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null), nginx $(dpkg-query -W -f='${Version}' nginx 2>/dev/null), $workers workers"
  if ! nginx -q -t -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf" ||
     ! nginx -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf"; then
    rm -f "$dir/nginx.pid"
    tail -n 20 "$dir/logs/error.log" >&2
    die "nginx failed to start (config $dir/nginx.conf)"
  fi
  for p in "$msp" "$plp"; do
    if ! wait_port "$p"; then
      tail -n 20 "$dir/logs/error.log" >&2
      cmd_stop "$dir" >/dev/null
      die "nothing answers on 127.0.0.1:$p"
    fi
  done
  echo "guard-peers: modsecurity+crs on 127.0.0.1:$msp, plain on 127.0.0.1:$plp -> 127.0.0.1:$up (pid $(cat "$dir/nginx.pid"), logs $dir/logs)"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local pidf=$1/nginx.pid pid i
  [ -s "$pidf" ] || { echo "guard-peers: not running ($1)"; return 0; }
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null && [ "$(ps -o comm= -p "$pid")" = nginx ]; then
    kill -QUIT "$pid"
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; sleep 0.5; fi
    echo "guard-peers: stopped nginx $pid"
  else
    echo "guard-peers: not running ($1)"
  fi
  rm -f "$pidf"
}

case "${1:-}" in
  install) shift; [ $# -eq 0 ] || usage; cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) usage ;;
esac
