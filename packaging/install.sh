#!/bin/sh
# Installs or upgrades the pdm agent from this unpacked package: sudo ./install.sh [--config FILE]
#   /opt/pdm-agent                       the agent (replaced on upgrade)
#   /etc/pdm/agent.yaml                  its config: written from the example on the first install only, or from --config
#   /var/lib/pdm                         outbox, commissioned baseline, last known good model (never touched on upgrade)
#   /etc/systemd/system/pdm-agent.service, /usr/local/bin/pdm-agent
# Node.js >= 20 is the only prerequisite; nothing is compiled or downloaded. Variables (for tests and unusual hosts):
#   PDM_AGENT_ROOT=DIR       install under DIR instead of / (no users created, systemctl not called)
#   PDM_AGENT_NODE=PATH      the node to check and run (default: node on PATH)
#   PDM_AGENT_USER=NAME      the service user (default: pdm, created when missing)
#   PDM_AGENT_NO_SYSTEMCTL=1 do not call systemctl (containers without systemd)
set -eu

die() {
  echo "pdm-agent install: $*" >&2
  exit 1
}
say() { echo "pdm-agent install: $*"; }

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${PDM_AGENT_ROOT:-}
ROOT=${ROOT%/}
SERVICE_USER=${PDM_AGENT_USER:-pdm}
NO_SYSTEMCTL=${PDM_AGENT_NO_SYSTEMCTL:-0}
PREFIX=/opt/pdm-agent
CONFIG_SRC=

while [ $# -gt 0 ]; do
  case $1 in
    --config)
      [ $# -ge 2 ] || die "--config needs a file"
      CONFIG_SRC=$2
      shift 2
      ;;
    -h | --help)
      sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [ -n "$CONFIG_SRC" ] && [ ! -r "$CONFIG_SRC" ]; then die "--config $CONFIG_SRC: no such readable file"; fi

# Node.js: present, new enough, and of this package's architecture (one node run: slow boards start it slowly).
NODE=${PDM_AGENT_NODE:-$(command -v node || true)}
[ -n "$NODE" ] || die "Node.js not found on PATH. pdm-agent needs Node.js 20 or newer: install it (apt install nodejs, or NodeSource's packages) or set PDM_AGENT_NODE to its path"
case $NODE in
  /*) ;;
  *) NODE=$(cd "$(dirname "$NODE")" && pwd)/$(basename "$NODE") ;;
esac
# shellcheck disable=SC2016
FACTS=$(PKG_JSON="$HERE/package.json" "$NODE" -e 'var p = require(process.env.PKG_JSON); console.log(process.versions.node, process.arch, p.version, p.cpu[0])' 2>&1) ||
  die "$NODE could not run: $FACTS"
# shellcheck disable=SC2086
set -- $FACTS
NODE_VERSION=$1 NODE_ARCH=$2 VERSION=$3 PKG_ARCH=$4
[ "${NODE_VERSION%%.*}" -ge 20 ] 2>/dev/null ||
  die "Node.js $NODE_VERSION at $NODE is too old: pdm-agent needs Node.js 20 or newer (apt install nodejs from Debian 13 / Raspberry Pi OS trixie, or NodeSource's node 20 or 22)"
[ "$NODE_ARCH" = "$PKG_ARCH" ] ||
  die "this package is for linux-$PKG_ARCH but $NODE runs on $NODE_ARCH: install pdm-agent-$VERSION-linux-$NODE_ARCH.tar.gz"

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then die "run as root: sudo $0"; fi
case $NODE in
  /home/* | /root/*) say "warning: $NODE is under /home or /root, which the unit's ProtectHome=true hides from the service; install Node.js system-wide" ;;
esac

# The service user owns only the state directory; the code and the config stay root's.
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
  [ -z "$ROOT" ] || die "user $SERVICE_USER does not exist; with PDM_AGENT_ROOT set no user is created (set PDM_AGENT_USER)"
  useradd --system --user-group --home-dir /var/lib/pdm --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  say "created the system user $SERVICE_USER"
fi
SERVICE_GROUP=$(id -gn "$SERVICE_USER")
owner() { if [ "$(id -u)" -eq 0 ]; then chown "$@"; fi; }

DEST=$ROOT$PREFIX
ETC=$ROOT/etc/pdm
STATE=$ROOT/var/lib/pdm
UPGRADE=0
[ -f "$DEST/package.json" ] && UPGRADE=1
mkdir -p "$ROOT/opt" "$ETC" "$STATE/outbox" "$STATE/models" "$ROOT/etc/systemd/system" "$ROOT/usr/local/bin"

# The new code goes in beside the old and replaces it in two renames, so a failed copy leaves the old one working.
NEW=$DEST.new.$$
OLD=$DEST.old.$$
rm -rf "$NEW"
mkdir -p "$NEW/bin"
cp -R "$HERE/dist" "$HERE/node_modules" "$HERE/models" "$HERE/config" "$NEW/"
cp "$HERE/package.json" "$HERE/THIRD_PARTY_NOTICES.txt" "$HERE/pdm-agent.service" "$HERE/install.sh" "$NEW/"
cat >"$NEW/bin/pdm-agent" <<EOF
#!/bin/sh
exec "$NODE" "$DEST/dist/cli/pdm-agent.js" "\$@"
EOF
chmod -R u=rwX,go=rX "$NEW"
chmod 0755 "$NEW/bin/pdm-agent" "$NEW/install.sh"
owner -R 0:0 "$NEW"
if [ -e "$DEST" ]; then mv "$DEST" "$OLD"; fi
mv "$NEW" "$DEST"
rm -rf "$OLD"
ln -sfn "$DEST/bin/pdm-agent" "$ROOT/usr/local/bin/pdm-agent"

# Config: the operator's file is never overwritten by an upgrade; --config replaces it (keeping the previous as .bak).
cp "$HERE/config/agent.example.yaml" "$ETC/agent.yaml.example"
CONFIGURED=1
if [ -n "$CONFIG_SRC" ]; then
  if [ -f "$ETC/agent.yaml" ]; then cp -p "$ETC/agent.yaml" "$ETC/agent.yaml.bak"; fi
  cp "$CONFIG_SRC" "$ETC/agent.yaml"
  say "installed $CONFIG_SRC as $ETC/agent.yaml"
elif [ -f "$ETC/agent.yaml" ]; then
  say "kept $ETC/agent.yaml"
else
  cp "$HERE/config/agent.example.yaml" "$ETC/agent.yaml"
  CONFIGURED=0
fi
# The config holds the device's secret: readable by root and the service user only.
chmod 0750 "$ETC"
chmod 0640 "$ETC/agent.yaml" "$ETC/agent.yaml.example"
owner "0:$SERVICE_GROUP" "$ETC" "$ETC/agent.yaml" "$ETC/agent.yaml.example"
chmod 0750 "$STATE" "$STATE/outbox" "$STATE/models"
owner -R "$SERVICE_USER:$SERVICE_GROUP" "$STATE"

# The unit, with the node checked above, the service user, and the paths under the root prefix.
sed -e "s#^ExecStart=/usr/bin/node #ExecStart=$NODE #" \
  -e "s#/opt/pdm-agent#$DEST#g" \
  -e "s#/etc/pdm/#$ETC/#g" \
  -e "s#/var/lib/pdm#$STATE#g" \
  -e "s#^User=pdm\$#User=$SERVICE_USER#" \
  -e "s#^Group=pdm\$#Group=$SERVICE_GROUP#" \
  "$HERE/pdm-agent.service" >"$ROOT/etc/systemd/system/pdm-agent.service"
chmod 0644 "$ROOT/etc/systemd/system/pdm-agent.service"

INSTALLED=$("$DEST/bin/pdm-agent" --version 2>&1) || die "the installed agent does not start: $INSTALLED"
[ "$INSTALLED" = "$VERSION" ] || die "the installed agent reports version $INSTALLED, the package is $VERSION"
if [ "$UPGRADE" -eq 1 ]; then what=upgraded; else what=installed; fi
say "$what pdm-agent $VERSION (linux-$PKG_ARCH, Node.js $NODE_VERSION at $NODE) in $DEST"

if [ -n "$ROOT" ] || [ "$NO_SYSTEMCTL" = 1 ] || [ ! -d /run/systemd/system ]; then
  say "systemctl not called; start it with: $DEST/bin/pdm-agent --config $ETC/agent.yaml"
  exit 0
fi
systemctl daemon-reload
systemctl enable pdm-agent >/dev/null 2>&1
if [ "$CONFIGURED" -eq 0 ]; then
  say "edit $ETC/agent.yaml (site, device, hub.url, hub.password, source), then: systemctl start pdm-agent"
else
  systemctl restart pdm-agent
  say "pdm-agent is running; follow it with: journalctl -u pdm-agent -f"
fi
