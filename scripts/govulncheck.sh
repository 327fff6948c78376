#!/usr/bin/env bash
# govulncheck.sh [--help] [PACKAGES...]
#
# Runs govulncheck over PACKAGES (default ./...) and fails on every
# vulnerability the code calls, except those listed in the allow-list.
# govulncheck has no in-source suppressions, so this script reads its JSON
# output and compares the called findings (symbol level, what govulncheck's
# own text mode fails on) with the allow-list; findings only in imported
# packages or required modules are printed as information.
#
# The vulnerability database is, by default, built offline from the Go
# module golang.org/x/vulndb at a pinned version (fetched through the Go
# module proxy like any module) and cached; it is rebuilt only when the
# cache lacks it (about a minute). A newer pin means a newer database.
#
# Allow-list (default .ci/govulncheck-allow), one finding per line:
#   ID  CONDITION  EXPIRES  JUSTIFICATION...
#   CONDITION  go<X.Y.Z  holds while the Go toolchain running the check is
#                        older than X.Y.Z (standard-library findings)
#              nofix     holds while the database names no fixed version
#   EXPIRES    YYYY-MM-DD: after that day the entry no longer holds
# An entry that no longer holds fails like an unlisted finding; an entry
# that matches nothing is reported as stale (remove it).
#
# Environment:
#   SOMA_VULNDB          "offline" (default), "online" (the public database
#                        govulncheck uses by default) or a file:// or https://
#                        database URL
#   SOMA_VULNDB_VERSION  golang.org/x/vulndb version of the offline database
#   SOMA_CACHE_DIR       cache root (default ~/.cache/soma); the database
#                        lives in $SOMA_CACHE_DIR/vulndb-<version>
#   SOMA_GOVULNCHECK_ALLOW  allow-list file
#   GO                   go command (default go)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=${SOMA_VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
CACHE=${SOMA_CACHE_DIR:-$HOME/.cache/soma}
ALLOW=${SOMA_GOVULNCHECK_ALLOW:-$REPO/.ci/govulncheck-allow}
DB=${SOMA_VULNDB:-offline}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
esac

say() { printf 'govulncheck.sh: %s\n' "$*" >&2; }

# offline_db builds (once) the database of golang.org/x/vulndb@VULNDB_VERSION
# and prints its directory.
offline_db() {
	local dir=$CACHE/vulndb-$VULNDB_VERSION
	if [[ -s $dir/index/modules.json ]]; then
		printf '%s\n' "$dir"
		return
	fi
	say "building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION into $dir"
	local moddir
	moddir=$(cd "$REPO" && "$GO" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	if [[ -z $moddir || ! -d $moddir/data/osv ]]; then
		say "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv (module directory: '${moddir}')"
		exit 2
	fi
	mkdir -p "$CACHE"
	local tmp
	tmp=$(mktemp -d "$CACHE/vulndb-build.XXXXXX")
	if ! (cd "$REPO" && "$GO" run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$moddir/data/osv" -out "$tmp/db") >&2; then
		rm -rf "$tmp"
		say "indexdb failed"
		exit 2
	fi
	rm -rf "$dir"
	mv "$tmp/db" "$dir"
	rmdir "$tmp"
	printf '%s\n' "$dir"
}

args=(-format json)
case $DB in
offline)
	dbdir=$(offline_db)
	args+=(-db "file://$dbdir")
	say "database: golang.org/x/vulndb@$VULNDB_VERSION (offline copy in $dbdir)"
	;;
online)
	say "database: the public one (govulncheck's default)"
	;;
file://* | https://*)
	args+=(-db "$DB")
	say "database: $DB"
	;;
*)
	say "SOMA_VULNDB must be offline, online, or a file:// or https:// URL (got '$DB')"
	exit 2
	;;
esac

if [[ ! -r $ALLOW ]]; then
	say "allow-list $ALLOW not readable"
	exit 2
fi

if (($# == 0)); then
	set -- ./...
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! (cd "$REPO" && "$GO" run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" "${args[@]}" "$@") >"$out"; then
	say "govulncheck failed to run"
	exit 2
fi

goversion=$(cd "$REPO" && "$GO" env GOVERSION)
python3 - "$out" "$ALLOW" "$goversion" <<'PY'
import datetime
import json
import re
import sys

out_file, allow_file, goversion = sys.argv[1:4]


def version_tuple(v):
    m = re.match(r"^(?:go|v)?(\d+)(?:\.(\d+))?(?:\.(\d+))?", v)
    if not m:
        raise ValueError(f"not a version: {v!r}")
    return tuple(int(x or 0) for x in m.groups())


# govulncheck -format json writes a stream of JSON objects.
text = open(out_file, encoding="utf-8").read()
decoder = json.JSONDecoder()
messages, i = [], 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    obj, i = decoder.raw_decode(text, i)
    messages.append(obj)

osvs = {m["osv"]["id"]: m["osv"] for m in messages if "osv" in m}
called, other = {}, {}
for m in messages:
    f = m.get("finding")
    if not f:
        continue
    frame = f["trace"][0]
    entry = {
        "module": frame.get("module", ""),
        "version": frame.get("version", ""),
        "fixed": f.get("fixed_version", ""),
    }
    if frame.get("function"):
        # The trace runs from the vulnerable symbol to the caller in this
        # module; keep the first one found as an example.
        if f["osv"] not in called:
            chain = [
                (fr.get("package", "") + "." + (fr.get("receiver", "") + "." if fr.get("receiver") else "") + fr["function"])
                for fr in reversed(f["trace"])
                if fr.get("function")
            ]
            entry["example"] = " -> ".join(chain if len(chain) <= 3 else [chain[0], "...", chain[-1]])
            called[f["osv"]] = entry
    else:
        other.setdefault(f["osv"], entry)

today = datetime.date.today()
gov = version_tuple(goversion)
allowed, problems = {}, []
for n, line in enumerate(open(allow_file, encoding="utf-8"), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    parts = line.split(None, 3)
    if len(parts) < 4:
        problems.append(f"{allow_file}:{n}: want 'ID CONDITION EXPIRES JUSTIFICATION'")
        continue
    vid, cond, expires, why = parts
    try:
        exp = datetime.date.fromisoformat(expires)
    except ValueError:
        problems.append(f"{allow_file}:{n}: expiry {expires!r} is not YYYY-MM-DD")
        continue
    if not (cond == "nofix" or cond.startswith("go<")):
        problems.append(f"{allow_file}:{n}: condition {cond!r} is neither nofix nor go<X.Y.Z")
        continue
    allowed[vid] = (n, cond, exp, why)

failed = []
for vid in sorted(called):
    f = called[vid]
    summary = osvs.get(vid, {}).get("summary", "")
    head = f"{vid} {f['module']}@{f['version']}" + (f" (fixed in {f['fixed']})" if f["fixed"] else " (no fix)")
    reason = None
    if vid not in allowed:
        reason = "not in the allow-list"
    else:
        n, cond, exp, why = allowed[vid]
        if today > exp:
            reason = f"allow-list entry (line {n}) expired on {exp}: review it"
        elif cond == "nofix" and f["fixed"]:
            reason = f"allow-list entry (line {n}) holds only while there is no fix, and {f['fixed']} fixes it: upgrade"
        elif cond.startswith("go<"):
            if f["module"] != "stdlib":
                reason = f"allow-list entry (line {n}) is for the standard library, but the finding is in {f['module']}"
            elif gov >= version_tuple(cond[3:]):
                reason = f"allow-list entry (line {n}) holds below {cond[3:]}, and the toolchain is {goversion}"
    if reason:
        failed.append(vid)
        print(f"FAIL     {head}: {summary}\n         {reason}\n         called: {f.get('example', '?')}")
    else:
        print(f"allowed  {head}: {allowed[vid][3]}")

for vid in sorted(set(other) - set(called)):
    f = other[vid]
    print(f"info     {vid} {f['module']}@{f['version']}: imported or required, not called")

for vid in sorted(set(allowed) - set(called)):
    print(f"stale    {vid}: allow-list line {allowed[vid][0]} matches no called vulnerability; remove it")

for p in problems:
    print(f"error    {p}")

print(f"govulncheck: {len(called)} called vulnerabilities, {len(called) - len(failed)} allowed, {len(failed)} failing; toolchain {goversion}")
sys.exit(1 if failed or problems else 0)
PY
