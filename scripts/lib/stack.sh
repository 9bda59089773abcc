# shellcheck shell=bash
# The local stack the API scripts test against (sourced by scripts/api-checks
# and scripts/client-checks, never run): the simulator, bff-mobile and
# bff-web, debug binaries of this tree, on free 127.0.0.1 ports with a known
# HS256 secret and a rate limit high enough not to interfere.
#
# The sourcing script provides: `die MESSAGE` (exits), `step MESSAGE`, a
# `work` directory for logs, and a `pids` array whose processes it stops by
# PID on exit. After `start_stack`: `control` (the simulator's control API),
# `url[mobile]`, `url[web]`, `secret` and `token` (a JWT for `u-1`, valid for
# an hour). Variables in the optional array `stack_env` (NAME=value) are
# given to both BFFs after these, so they win.

# Builds the binaries unless $1 is 1, then sets `bin` to their folder.
locate_binaries() {
    if [[ "${1:-0}" != 1 ]]; then
        step "building the binaries (debug)"
        cargo build --quiet --locked --workspace --bins
    fi
    bin="${CARGO_TARGET_DIR:-$PWD/target}/debug"
    [[ "$bin" == /* ]] || bin="$PWD/$bin"
    local b
    for b in bff-stack bff-mobile bff-web; do [[ -x "$bin/$b" ]] || die "$bin/$b is missing"; done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
taken=" "
free_port() {
    local port tries=0
    while ((tries++ < 500)); do
        port=$((20000 + RANDOM % 12000))
        [[ "$taken" == *" $port "* ]] && continue
        if port_free "$port"; then taken+="$port "; echo "$port"; return; fi
    done
    die "no free port found"
}

# Waits up to 30 s for $2 to answer 200, while process $1 runs.
wait_200() {
    local pid="$1" url="$2" log="$3" deadline=$((SECONDS + 30))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" == 200 ]]; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            tail -n 20 "$log" >&2 || true
            die "$url did not answer"
        fi
        sleep 0.1
    done
}

# Starts the simulator and both BFFs (logs in $work); `bin` must be set.
# The rate limit is raised so that a test run is not refused (429 is
# documented, but a run of 429s would test nothing), and the deadline so
# that a slow CI machine does not turn into upstream timeouts (504s) while
# the upstreams are healthy.
declare -A url
start_stack() {
    step "starting the simulator, bff-mobile and bff-web on 127.0.0.1"
    secret="stack-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    local control_port sim_pid name port
    control_port="$(free_port)"
    "$bin/bff-stack" simulate --host 127.0.0.1 --base-port 0 --control-port "$control_port" \
        >"$work/simulator.log" 2>&1 &
    sim_pid=$!
    pids+=("$sim_pid")
    control="http://127.0.0.1:$control_port"
    wait_200 "$sim_pid" "$control/services" "$work/simulator.log"
    local upstream_env=()
    while read -r name u; do
        upstream_env+=("BFF_UPSTREAM_${name^^}_URL=$u")
    done < <(curl -s "$control/services" |
        python3 -c 'import json, sys; [print(s["name"], s["url"]) for s in json.load(sys.stdin)]')
    ((${#upstream_env[@]} == 8)) || die "the simulator lists ${#upstream_env[@]} services, not 8"
    for name in mobile web; do
        port="$(free_port)"
        env "${upstream_env[@]}" BFF_LISTEN="127.0.0.1:$port" BFF_JWT_HS256_SECRET="$secret" \
            BFF_RATE_LIMIT_RPS=100000 BFF_RATE_LIMIT_BURST=100000 BFF_DEADLINE_MS=5000 BFF_LOG_FORMAT=json \
            ${stack_env[@]+"${stack_env[@]}"} "$bin/bff-$name" >"$work/bff-$name.log" 2>&1 &
        pids+=($!)
        url[$name]="http://127.0.0.1:$port"
        wait_200 $! "${url[$name]}/healthz" "$work/bff-$name.log"
    done
    token="$("$bin/bff-stack" token --secret "$secret" --sub u-1 --ttl-secs 3600)"
}

# Sets fault $1 (JSON, as the simulator's `PUT /faults/<service>` takes it)
# on the services named after it, or on all eight.
set_faults() {
    local fault="$1" service
    shift
    (($#)) || set -- users orders catalog pricing inventory recommendations notifications reviews
    for service in "$@"; do
        curl -sf -X PUT -H 'Content-Type: application/json' -d "$fault" "$control/faults/$service" >/dev/null ||
            die "cannot set a fault on $service"
    done
}

# Clears every fault.
clear_faults() {
    curl -sf -X DELETE "$control/faults" >/dev/null || die "cannot clear the faults"
}
