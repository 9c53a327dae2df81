#!/bin/bash
# The build container's entry point: runs the app's buildpacks with the classic buildpack API.
#
#   bin/detect BUILD_DIR                     -> exit 0 and a name on stdout when the pack applies
#   bin/compile BUILD_DIR CACHE_DIR ENV_DIR  -> transforms BUILD_DIR in place
#   bin/release BUILD_DIR                    -> YAML with default_process_types (last pack only)
#
# The platform prepares /tmp/control/buildpacks, one line per pack: "<dir><TAB><label><TAB><fetch>",
# where <fetch> is empty (the files are already in <dir>) or a URL to fetch here, inside the
# container (git repository, optionally "#ref", or a .tgz/.tar.gz tarball). /tmp/control/mode is
# "auto" (use the first pack that detects) or "explicit" (every pack must detect).
# Results for the platform: /tmp/control/detected (the packs that ran) and /tmp/control/release.yml.
# Exit status: 0 ok, 10 fetch failed, 11 nothing detected, 12 not compatible, 13 compile failed,
# 14 release failed, 15 compile killed (out of memory).
set -uo pipefail

BUILD_DIR=/app
CACHE_DIR=/tmp/cache
ENV_DIR=/tmp/env
CONTROL=/tmp/control
mkdir -p "$HOME"
: > "$CONTROL/detected"

fail() { echo " !     $*"; }

fetch() {  # fetch URL DIR
    local url="$1" dir="$2" ref="" unpacked
    case "$url" in
        *.tgz|*.tar.gz|*.tgz\?*|*.tar.gz\?*)
            unpacked=$(mktemp -d)
            curl --fail --silent --show-error --location --retry 2 --max-time 120 "$url" \
                | tar -xz -C "$unpacked" || return 1
            if [ ! -d "$unpacked/bin" ] && [ "$(ls -A "$unpacked" | wc -l)" = 1 ]; then
                unpacked="$unpacked/$(ls -A "$unpacked")"
            fi
            cp -a "$unpacked/." "$dir/" ;;
        *)
            if [[ "$url" == *"#"* ]]; then ref="${url##*#}"; url="${url%#*}"; fi
            if [ -n "$ref" ]; then
                git clone --quiet --depth 1 --branch "$ref" "$url" "$dir" 2>&1 \
                    || { rm -rf "$dir"; git clone --quiet "$url" "$dir" 2>&1 && git -C "$dir" checkout --quiet "$ref"; } \
                    || return 1
            else
                git clone --quiet --depth 1 "$url" "$dir" 2>&1 || return 1
            fi ;;
    esac
    chmod +x "$dir"/bin/* 2>/dev/null
    return 0
}

dirs=(); labels=()
while IFS=$'\t' read -r dir label url; do
    [ -n "$dir" ] || continue
    if [ -n "$url" ]; then
        echo "-----> Fetching buildpack $label"
        rm -rf "$dir"
        if ! fetch "$url" "$dir"; then
            fail "Failed to download buildpack $label"
            exit 10
        fi
    fi
    if [ ! -x "$dir/bin/detect" ] || [ ! -x "$dir/bin/compile" ]; then
        fail "Buildpack $label has no executable bin/detect and bin/compile"
        exit 10
    fi
    dirs+=("$dir"); labels+=("$label")
done < "$CONTROL/buildpacks"

mode=$(cat "$CONTROL/mode")
selected=(); names=()
for i in "${!dirs[@]}"; do
    if name=$("${dirs[$i]}/bin/detect" "$BUILD_DIR"); then
        name=$(printf '%s' "$name" | head -n 1)
        selected+=("$i"); names+=("${name:-${labels[$i]}}")
        [ "$mode" = auto ] && break
    elif [ "$mode" = explicit ]; then
        fail "App not compatible with buildpack: ${labels[$i]}"
        fail "bin/detect of that buildpack found nothing it can build in this app."
        exit 12
    fi
done
if [ "${#selected[@]}" = 0 ]; then
    fail "No default language could be detected for this app."
    fail "Add a Procfile, requirements.txt, package.json or index.html, or set a buildpack:"
    fail "  pyroku buildpacks:set <url>"
    exit 11
fi

for n in "${!selected[@]}"; do
    i="${selected[$n]}"; dir="${dirs[$i]}"; name="${names[$n]}"
    echo "-----> ${name} app detected"
    printf '%s\t%s\n' "$dir" "$name" >> "$CONTROL/detected"
    "$dir/bin/compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR"
    status=$?
    if [ "$status" = 137 ]; then
        fail "bin/compile of ${name} was killed (status 137): the build ran out of memory."
        exit 15
    elif [ "$status" != 0 ]; then
        fail "Push rejected, failed to compile ${name} app (bin/compile exited with status ${status})."
        exit 13
    fi
    # what this pack exports is the environment of the packs after it
    if [ -f "$dir/export" ]; then
        # shellcheck disable=SC1091
        . "$dir/export"
    fi
done

last="${dirs[${selected[-1]}]}"
if [ -x "$last/bin/release" ]; then
    if ! "$last/bin/release" "$BUILD_DIR" > "$CONTROL/release.yml"; then
        fail "bin/release of ${names[-1]} failed."
        exit 14
    fi
fi
exit 0
