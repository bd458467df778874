#!/bin/bash
# Installs the Debian packages listed in tests/deps.txt that are missing (non-interactive).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
missing=()
while read -r p; do
    p=${p%%#*}
    p=$(echo "$p" | xargs)
    [ -z "$p" ] && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done <"$here/deps.txt"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
