#!/usr/bin/env bash
# Checks a built .deb the way campus IT will meet it:
#  1. its contents and control fields (files, conffile, Recommends);
#  2. installed with `dpkg -i` on THIS machine (a throwaway root is not possible: dpkg runs
#     the maintainer scripts chrooted into it, and they need a shell, getent and useradd
#     there), refusing to touch a machine where Gatehouse is already installed;
#  3. the files, the gatehouse user and the config land where the README says;
#  4. `systemd-analyze verify` without any warning, `systemd-analyze security --offline=true`
#     rated OK or better;
#  5. the installed binary serves as the gatehouse user with the packaged config and takes a
#     backup beside the running server;
#  6. purged, and the user and directories it made removed, leaving the machine as it was.
#
#   scripts/check-package.sh path/to/gatehouse_X_amd64.deb
set -euo pipefail
deb=$(realpath "$1")
step() { printf '\n==> %s\n' "$*"; }
fail() { echo "error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (it installs the package on this machine)"
if dpkg-query -W -f='${Status}' gatehouse 2>/dev/null | grep -q "install ok installed"; then
  fail "gatehouse is already installed here; this check installs and purges it, so it runs only where it is not"
fi
[ ! -e /var/lib/gatehouse ] || fail "/var/lib/gatehouse exists: not a machine to test on"

step "contents of $(basename "$deb")"
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/gatehouse ./lib/systemd/system/gatehouse.service \
            ./usr/lib/sysusers.d/gatehouse.conf ./etc/gatehouse/gatehouse.toml \
            ./usr/share/doc/gatehouse/README.md ./usr/share/doc/gatehouse/docs/campus-it.md; do
  grep -q " $path\$" <<<"$contents" || fail "$path is not in the package"
done
dpkg-deb --field "$deb" Recommends | grep -q tesseract-ocr || fail "no Recommends: tesseract-ocr"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/gatehouse/gatehouse.toml \
  || fail "/etc/gatehouse/gatehouse.toml is not a conffile"
echo "ok: files, conffile, Recommends"

made_user=no
getent passwd gatehouse >/dev/null || made_user=yes
cleanup() {
  step "purging"
  if [ -n "${server_pid:-}" ]; then kill "$server_pid" 2>/dev/null || true; fi
  dpkg --purge gatehouse >/dev/null 2>&1 || true
  rm -rf /var/lib/gatehouse /var/log/gatehouse
  if [ "$made_user" = yes ]; then
    userdel gatehouse 2>/dev/null || true
    groupdel gatehouse 2>/dev/null || true
  fi
}
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$deb"

step "files, user and config where the README says"
[ -x /usr/bin/gatehouse ] || fail "no /usr/bin/gatehouse"
/usr/bin/gatehouse version
ldd /usr/bin/gatehouse 2>&1 | grep -q "not a dynamic executable\|statically linked" \
  || fail "/usr/bin/gatehouse is not static"
IFS=: read -r _ _ _ _ _ home shell < <(getent passwd gatehouse) || fail "no gatehouse user"
[ "$home" = /var/lib/gatehouse ] || fail "gatehouse's home is $home"
case "$shell" in */nologin|/bin/false) ;; *) fail "gatehouse has a login shell: $shell" ;; esac
[ "$(stat -c '%U:%G %a' /etc/gatehouse/gatehouse.toml)" = "root:gatehouse 640" ] \
  || fail "config owner/mode: $(stat -c '%U:%G %a' /etc/gatehouse/gatehouse.toml)"
[ "$(stat -c '%U %a' /var/lib/gatehouse)" = "gatehouse 700" ] \
  || fail "data dir owner/mode: $(stat -c '%U %a' /var/lib/gatehouse)"
grep -qx 'mode = "production"' /etc/gatehouse/gatehouse.toml || fail "config is not production"
grep -qx 'data_dir = "/var/lib/gatehouse"' /etc/gatehouse/gatehouse.toml || fail "data_dir"
runuser -u gatehouse -- gatehouse check-config --config /etc/gatehouse/gatehouse.toml >/dev/null
echo "ok: binary, user, config, directories"

step "systemd-analyze verify (no warnings)"
verify=$(systemd-analyze verify /lib/systemd/system/gatehouse.service 2>&1) \
  || fail "verify failed: $verify"
[ -z "$verify" ] || fail "verify warned: $verify"
echo "ok: no warnings"

step "systemd-analyze security --offline=true"
rating=$(systemd-analyze security --offline=true /lib/systemd/system/gatehouse.service 2>&1 \
  | grep -o 'Overall exposure level for gatehouse.service: [0-9.]* [A-Z]*')
echo "$rating"
case "$rating" in *" SAFE"|*" OK") ;; *) fail "rated worse than OK" ;; esac

step "serving as the gatehouse user with the packaged config, and a backup beside it"
log=$(mktemp)
# Port 0 so as not to collide with anything on 8080; everything else is the packaged config.
# setpriv execs (runuser would stay as the parent and stand between the signal and the exit).
GATEHOUSE_SERVER__LISTEN=127.0.0.1:0 setpriv --reuid=gatehouse --regid=gatehouse --init-groups \
  gatehouse serve --config /etc/gatehouse/gatehouse.toml >"$log" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
  addr=$(grep -o 'is serving on [0-9.:]*' "$log" | awk '{print $4}') && [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; fail "the server did not start"; }
curl -fsS "http://$addr/health" | grep -q ok || fail "/health"
runuser -u gatehouse -- gatehouse backup --config /etc/gatehouse/gatehouse.toml
ls /var/lib/gatehouse/backups/gatehouse-*.tar.gz >/dev/null || fail "no backup in /var/lib/gatehouse/backups"
[ "$(stat -c '%a' /var/lib/gatehouse/backups/gatehouse-*.tar.gz)" = 600 ] || fail "backup mode"
ls /var/log/gatehouse/* >/dev/null || fail "no log file in /var/log/gatehouse"
kill -TERM "$server_pid"
wait "$server_pid" || { cat "$log"; fail "the server did not exit 0 on SIGTERM"; }
server_pid=""
echo "ok: served, backed up, stopped cleanly"

step "package checks passed"
