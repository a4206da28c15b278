#!/usr/bin/env bash
# bench/bench.sh: wrk benchmark of ngx_http_remote_help_module.
#
# Runs each workload against the module, the ceiling (stock nginx "return"
# of the same status, headers and bytes) and, when ../shared/peers is
# present, the Lua peer: A B C A B C ... in one run, since the machine is
# shared and noisy.  Prints the median requests/s and p99 of each, and the
# median of the per-round ratios.
#
#   bench/bench.sh [--rounds N] [--duration S] [--workloads "get post ..."]
#                  (also listfilter, listrare, listselect: a listing page
#                  with query options, next to list)
#                  [--keys N] [--scale N] [--fill] [--no-peer] [--no-state]
#                  [--no-life] [--no-jwt] [--no-fleet] [--sweep N]
#
#   (default)   also: POST, PATCH and mixed against the module with
#               state= and with state= state_sync=on, as ratios to the
#               module without state= (--no-state leaves them out)
#               and GET, POST, PATCH, mixed and list against the module
#               with timeout=1h expire=on, as ratios to the module
#               without them (--no-life leaves them out)
#   --scale N   also: GET and PATCH with N objects in the zone against the
#               same with 1,000 (two module instances, alternated)
#   (default)   and GET with remote_help_auth jwt against bearer: 1,000
#               RS256 tokens in turn (each verified once, then from the
#               cache), and 3,000 in turn (more than the cache keeps:
#               every GET a verification); --no-jwt leaves them out
#   (default)   and the fleet: GET, POST, PATCH and mixed against the
#               module with backend= (a redis-server of its own, on the
#               same cores), cache=on and cache=off, as ratios to the
#               module without it and to the Node.js + Redis peer of
#               ../shared/peers/node when it is there; nginx's (and
#               Redis's) CPU microseconds per request; --no-fleet leaves
#               it out. The two gateways run one worker fewer than the
#               other targets (FLEET_WORKERS, 1 with the 2 workers here),
#               leaving Redis, on the same cores, one of its own, as
#               docs/fleet.md ("Cores") advises; FLEET_WORKERS=2 runs
#               them with as many as the others
#   --sweep N   also: N objects that expire in the same second (expire=on):
#               how long the sweep takes, and the longest answer of a
#               GET sent meanwhile on 4 connections (a worker's pause)
#   --fill      also: fill a 16m zone with retrieve objects until 507 and
#               report the zone bytes per object
#
# Everything runs on 127.0.0.1, on free ports, under build/bench/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/ngx_http_remote_help_module.so}
PEERS=${PEERS:-$ROOT/../shared/peers}
RUN=$ROOT/build/bench
WRK_SCRIPT=$ROOT/bench/wrk/remote_help.lua

DURATION=5 ROUNDS=3 CONNS=64 THREADS=2 KEYS=10000 WORKERS=2
FLEET_WORKERS=${FLEET_WORKERS:-$(( WORKERS > 1 ? WORKERS - 1 : 1 ))}
WORKLOADS="get patch post mixed list listfilter listrare listselect" SCALE=0 FILL=0 PEER=1 STATE=1 LIFE=1 SWEEP=0 JWT=1
FLEET=1
ZONE_SIZE=1024m

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2;;
        --duration) DURATION=$2; shift 2;;
        --workloads) WORKLOADS=$2; shift 2;;
        --keys) KEYS=$2; shift 2;;
        --scale) SCALE=$2; shift 2;;
        --fill) FILL=1; shift;;
        --sweep) SWEEP=$2; shift 2;;
        --no-peer) PEER=0; shift;;
        --no-state) STATE=0; shift;;
        --no-life) LIFE=0; shift;;
        --no-jwt) JWT=0; shift;;
        --no-fleet) FLEET=0; shift;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0;;
        *) echo "bench.sh: unknown option $1" >&2; exit 1;;
    esac
done

[[ -d $PEERS/lua ]] || PEER=0

die() { echo "bench.sh: $*" >&2; exit 1; }

free_port() {
    perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr =>
        "127.0.0.1", LocalPort => 0, Listen => 1, ReuseAddr => 1) or die;
        print $s->sockport'
}

STARTED=()
declare -A PORT

cleanup() {
    local n pid
    for n in "${STARTED[@]}"; do
        pid=$(cat "$RUN/$n/nginx.pid" 2>/dev/null) || continue
        kill -QUIT "$pid" 2>/dev/null || true
    done
    for pid in $(cat "$RUN"/redis-*/redis.pid 2>/dev/null); do
        kill "$pid" 2>/dev/null
    done
    [[ -d $RUN/peers/node ]] && RUNDIR=$RUN/peers "$PEERS/node/serve.sh" stop node \
        >/dev/null 2>&1
    true
}
trap cleanup EXIT

# render TEMPLATE NAME ZONE_SIZE: substitutes the {{...}} placeholders
render() {
    local tmpl=$1 name=$2 zone=${3:-$ZONE_SIZE}
    mkdir -p "$RUN/$name"
    PORT[$name]=$(free_port)
    TMPL=$tmpl OUT=$RUN/$name/nginx.conf PORTNUM=${PORT[$name]} \
    PREFIX=$RUN/$name MODULE=$MODULE WORKERS=$WORKERS ZONE=$zone \
    COMMON_FILE=$ROOT/bench/common.conf PEERDIR=$PEERS \
    OBJECT=${OBJECT:-} CREATED=${CREATED:-} KEY=${KEY:-} \
    STATE=${STATE_PARAM:-} HTTP=${HTTP_PARAM:-} perl -e '
        local $/; open my $t, "<", $ENV{TMPL} or die; my $c = <$t>;
        open my $f, "<", $ENV{COMMON_FILE} or die; my $common = <$f>;
        my %v = (PORT => $ENV{PORTNUM}, PREFIX => $ENV{PREFIX},
            MODULE => $ENV{MODULE}, WORKERS => $ENV{WORKERS},
            ZONE_SIZE => $ENV{ZONE}, STORE_SIZE => $ENV{ZONE},
            COMMON => $common, PEERDIR => $ENV{PEERDIR}, AFFINITY => "",
            OBJECT => $ENV{OBJECT}, CREATED => $ENV{CREATED}, KEY => $ENV{KEY},
            STATE => $ENV{STATE}, HTTP => $ENV{HTTP});
        $c =~ s/\{\{(\w+)\}\}/$v{$1} \/\/ die "no value for $1"/ge;
        open my $o, ">", $ENV{OUT} or die; print $o $c;'
}

# start NAME [soft]: with "soft", a server that does not start (a peer
# whose packages are missing) returns 1 instead of ending the run
start() {
    local name=$1 soft=${2:-} i
    rm -f "$RUN/$name/nginx.pid"
    if ! "$NGINX" -p "$RUN/$name/" -c "$RUN/$name/nginx.conf" \
        -e "$RUN/$name/error.log" 2>"$RUN/$name/start.log"; then
        [[ -n $soft ]] && return 1
        cat "$RUN/$name/start.log" >&2
        die "$name did not start"
    fi
    STARTED+=("$name")
    for i in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:${PORT[$name]}/" && return 0
        sleep 0.05
    done
    [[ -n $soft ]] && { stop "$name"; return 1; }
    die "$name does not answer"
}

stop() {
    local name=$1 pid i
    pid=$(cat "$RUN/$name/nginx.pid" 2>/dev/null) || return 0
    kill -QUIT "$pid" 2>/dev/null || return 0
    for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
}

url() { echo "http://127.0.0.1:${PORT[$1]}"; }

# wrk NAME WORKLOAD DURATION [NKEYS] [CONNS]: prints "rps non2xx p99us"
wrk_run() {
    local name=$1 wl=$2 dur=$3 nkeys=${4:-$KEYS} conns=${5:-$CONNS} out line
    # unique per run (callers run this in a subshell: no counter)
    local runid; runid=$(date +%s%N)
    out=$(WRK_THREADS=$THREADS WRK_LAZY=${WRK_LAZY:-0} wrk -t"$THREADS" -c"$conns" -d"${dur}s" \
          -s "$WRK_SCRIPT" "$(url "$name")" -- "$wl" "$nkeys" \
          "$runid" /beta/ 2>&1) || { echo "$out" >&2; die "wrk failed"; }
    line=$(grep '^RESULT ' <<<"$out") || { echo "$out" >&2; die "no RESULT"; }
    sed -E 's/.*rps=([0-9.]+).*non2xx=([0-9]+).*p99us=([0-9]+).*/\1 \2 \3/' <<<"$line"
}

# creates bench-k1..bench-kN (idempotent: existing keys answer 409)
load() {
    local name=$1 n=$2 code try
    for try in 1 2 3 4 5 6; do
        wrk_run "$name" load $((n / 15000 + 3)) "$n" 16 >/dev/null
        code=$(curl -s -o /dev/null -w '%{http_code}' \
               -H "${LOAD_AUTH:-Authorization: Bearer b}" \
               "$(url "$name")/beta/RemoteHelpSessionRetrieveResponse/bench-k1")
        code+=$(curl -s -o /dev/null -w '%{http_code}' \
               -H "${LOAD_AUTH:-Authorization: Bearer b}" \
               "$(url "$name")/beta/RemoteHelpSessionRetrieveResponse/bench-k$n")
        [[ $code == 200200 ]] && return 0
    done
    die "$name: could not load $n objects"
}

# zone_figures NAME: "objects used" of the retrieve set, from the status
zone_figures() {
    curl -s "$(url "$1")/status" | perl -MJSON::PP -e '
        local $/; my $s = decode_json(<STDIN>); $s = $s->{zones}[0] if $s->{zones};
        print $s->{objects}{RemoteHelpSessionRetrieveResponse}, " ",
              $s->{used}, "\n"'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {
    if (NR == 0) print "NA"; else if (NR % 2) print a[(NR+1)/2];
    else printf "%.4f\n", (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "NA" }'; }

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[[ -f $MODULE ]] || die "build the module first (make)"

rm -rf "$RUN"
mkdir -p "$RUN"
chmod 755 "$RUN"

echo "# bench.sh $(date -u +%FT%TZ): $(nproc) cores, $($NGINX -v 2>&1 | sed 's/.*: //'),"\
     "wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds, $KEYS keys, $WORKERS workers"

# --- the module, loaded; the ceiling gets its exact bytes ----------------

render "$ROOT/bench/module.conf.tmpl" module
start module
load module "$KEYS"

H='Authorization: Bearer b'
OBJECT=$(curl -s -H "$H" "$(url module)/beta/RemoteHelpSessionRetrieveResponse/bench-k1")
KEY=ceiling-sample
CREATED=$(curl -s -H "$H" -H 'Content-Type: application/json' \
    -d "$(sed "s/\"sessionKey\":\"bench-k1\"/\"sessionKey\":\"$KEY\"/" <<<"$OBJECT")" \
    "$(url module)/beta/RemoteHelpSessionRetrieveResponse")

render "$ROOT/bench/ceiling.conf.tmpl" ceiling
curl -s -H "$H" "$(url module)/beta/RemoteHelpSessionRetrieveResponse?\$top=100" \
    > "$RUN/ceiling/list.json"
# the listings with query options (the wrk script's listfilter, listrare
# and listselect), each page's bytes as the module sends them
for q in "listfilter&\$filter=startswith(sessionKey,%27bench-k%27)%20and%20deviceName%20ne%20null" \
         "listrare&\$filter=sessionKey%20eq%20%27bench-k7%27" \
         "listselect&\$select=sessionKey,deviceName"; do
    curl -s -H "$H" "$(url module)/beta/RemoteHelpSessionRetrieveResponse?\$top=100&${q#*&}" \
        > "$RUN/ceiling/${q%%&*}.json"
done
start ceiling

TARGETS=(module ceiling)

if [[ $PEER == 1 ]]; then
    render "$PEERS/lua/nginx.conf.tmpl" lua
    if start lua soft; then
        load lua "$KEYS"
        TARGETS+=(lua)
    else
        echo "# the Lua peer did not start (libnginx-mod-http-lua, lua-cjson?): left out"
    fi
fi

# the module with state= (and state_sync=on): writes only, as a ratio
# to the module without it; the state files live in a directory the
# workers (nobody, when run as root) can write
if [[ $STATE == 1 ]]; then
    for v in state sync; do
        mkdir -p "$RUN/$v/data"
        chmod 777 "$RUN/$v/data"
        # only this render sees it: the scale and fill servers have none
        param="state=$RUN/$v/data/bench.state"
        [[ $v == sync ]] && param+=" state_sync=on"
        STATE_PARAM=$param render "$ROOT/bench/module.conf.tmpl" "$v"
        start "$v"
        load "$v" "$KEYS"
        TARGETS+=("$v")
    done
fi

# the module with lifetimes: every object in the expiry tree (the bodies'
# sessionExpirationDateTime is in 2099, so timeout=1h decides)
if [[ $LIFE == 1 ]]; then
    STATE_PARAM="timeout=1h expire=on" render "$ROOT/bench/module.conf.tmpl" life
    start life
    load life "$KEYS"
    TARGETS+=(life)
fi

echo "# object: ${#OBJECT} bytes of JSON; POST body: $(( ${#CREATED} )) bytes"
echo

declare -A RPS P99 BAD CPU

# --- the workloads ---------------------------------------------------------

# cpu_ticks PID...: utime + stime of the processes and their children
cpu_ticks() {
    local s=0 p c f
    for p in "$@"; do
        for c in "$p" $(pgrep -P "$p"); do
            read -r -a f < "/proc/$c/stat" 2>/dev/null || continue
            s=$((s + f[13] + f[14]))
        done
    done
    echo "$s"
}


# nginx's CPU per request (master and workers, utime + stime over the run)
# is reported beside req/s: steadier on a machine whose other load moves
# the rates by a third between rounds
printf '| workload | target | median req/s | median p99 (ms) | CPU us/req | runs req/s |\n'
printf '|---|---|---|---|---|---|\n'
HZ=$(getconf CLK_TCK)

SUMMARY=""

for wl in $WORKLOADS; do
    for t in "${TARGETS[@]}"; do RPS[$t]=""; P99[$t]=""; CPU[$t]=""; BAD[$t]=0; done
    declare -A R=() U=()

    for t in "${TARGETS[@]}"; do wrk_run "$t" "$wl" 1 >/dev/null; done  # warm-up

    for ((r = 1; r <= ROUNDS; r++)); do
        for t in "${TARGETS[@]}"; do
            [[ $wl == list* && $t == lua ]] && continue   # the peer has no listing
            [[ ($t == state || $t == sync) && ! $wl =~ ^(post|patch|mixed)$ ]] \
                && continue
            if [[ $wl == post && $t != ceiling ]]; then
                # every POST run starts from an empty store, as in the
                # peer's harness: 3 rounds of POSTs outgrow any zone
                stop "$t"; rm -f "$RUN/$t/data/"*; start "$t"
                wrk_run "$t" post 1 >/dev/null
            fi
            tp=$(cat "$RUN/$t/nginx.pid" 2>/dev/null)
            c0=$(cpu_ticks $tp)
            read -r rps non2xx p99 < <(wrk_run "$t" "$wl" "$DURATION")
            c1=$(cpu_ticks $tp)
            U[$t,$r]=$(awk -v c=$((c1 - c0)) -v r="$rps" -v d="$DURATION" -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz / (r * d) * 1e6 }')
            RPS[$t]+=" $rps"; P99[$t]+=" $p99"; CPU[$t]+=" ${U[$t,$r]}"
            R[$t,$r]=$rps
            [[ $non2xx == 0 ]] || BAD[$t]=$((BAD[$t] + non2xx))
        done
    done

    if [[ $wl == post ]]; then
        # the stores are empty again: the keys the others read
        for t in "${TARGETS[@]}"; do
            [[ $t == ceiling ]] && continue
            stop "$t"; rm -f "$RUN/$t/data/"*; start "$t"; load "$t" "$KEYS"
        done
    fi

    for t in "${TARGETS[@]}"; do
        [[ -n ${RPS[$t]} ]] || continue
        flag=""
        [[ ${BAD[$t]} == 0 ]] || flag=" !! ${BAD[$t]} non-2xx"
        printf '| %s | %s | %.0f | %.2f | %s | %s%s |\n' "$wl" "$t" \
            "$(median <<<"${RPS[$t]}")" \
            "$(awk -v u="$(median <<<"${P99[$t]}")" 'BEGIN{print u/1000}')" \
            "$(median <<<"${CPU[$t]}")" \
            "$(sed 's/^ //; s/\.[0-9]*//g' <<<"${RPS[$t]}")" "$flag"
    done

    for other in "${TARGETS[@]:1}"; do
        [[ -n ${RPS[$other]} ]] || continue
        rs="" us=""
        for ((r = 1; r <= ROUNDS; r++)); do
            if [[ $other == state || $other == sync || $other == life ]]; then
                rs+=" $(ratio "${R[$other,$r]}" "${R[module,$r]}")"
                # requests per CPU second, the target's over the module's
                us+=" $(ratio "${U[module,$r]}" "${U[$other,$r]}")"
            else
                rs+=" $(ratio "${R[module,$r]}" "${R[$other,$r]}")"
                us+=" $(ratio "${U[$other,$r]}" "${U[module,$r]}")"
            fi
        done
        name="module/$other"
        [[ $other == state || $other == sync || $other == life ]] \
            && name="$other/module"
        SUMMARY+="| $wl | $name | $(median <<<"$rs") |$rs | $(median <<<"$us") |"$'\n'
    done
done

echo
printf '| workload | ratio | median of rounds | each round | by CPU per request (median of rounds) |\n|---|---|---|---|---|\n%s' "$SUMMARY"

# --- jwt: GET with verified tokens against bearer ----------------------------

if [[ $JWT == 1 ]]; then
    for v in lua state sync life; do stop "$v" 2>/dev/null || true; done
    mkdir -p "$RUN/tokens"
    echo
    echo "# jwt: minting 3,000 RS256 tokens (openssl)..."
    perl "$ROOT/bench/tokens.pl" "$RUN/tokens" 3000
    head -1000 "$RUN/tokens/tokens.txt" > "$RUN/tokens/warm.txt"
    HTTP_PARAM="remote_help_auth jwt; remote_help_jwt_keys $RUN/tokens/jwks.json;
    remote_help_jwt_issuer https://issuer.bench;
    remote_help_jwt_audience api://remote-help-bench;" \
        render "$ROOT/bench/module.conf.tmpl" jwt
    start jwt
    WRK_TOKENS=$RUN/tokens/warm.txt \
    LOAD_AUTH="Authorization: Bearer $(head -1 "$RUN/tokens/warm.txt")" \
        load jwt "$KEYS"
    printf '\n| workload | bearer req/s | jwt req/s | jwt / bearer | each round |\n|---|---|---|---|---|\n'
    for tk in warm cold; do
        file=$RUN/tokens/warm.txt
        [[ $tk == cold ]] && file=$RUN/tokens/tokens.txt
        b="" j="" rs=""
        WRK_TOKENS=$file wrk_run jwt get 1 >/dev/null
        for ((r = 1; r <= ROUNDS; r++)); do
            # the same tokens to both: what differs is what jwt does
            read -r r1 n1 _ < <(WRK_TOKENS=$file wrk_run module get "$DURATION")
            read -r r2 n2 _ < <(WRK_TOKENS=$file wrk_run jwt get "$DURATION")
            [[ $n2 == 0 ]] || echo "# jwt $tk: $n2 non-2xx" >&2
            b+=" $r1" j+=" $r2" rs+=" $(ratio "$r2" "$r1")"
        done
        printf '| GET, %s tokens | %.0f | %.0f | %s |%s |\n' \
            "$([[ $tk == warm ]] && echo '1,000 cached' || echo '3,000 in turn (all verified)')" \
            "$(median <<<"$b")" "$(median <<<"$j")" "$(median <<<"$rs")" "$rs"
    done
    # every GET a verification: how many a second of a worker's CPU does
    workers=$(pgrep -P "$(cat "$RUN/jwt/nginx.pid")")
    cpu() { local s=0 p f; for p in $workers; do read -r -a f < "/proc/$p/stat"
            s=$((s + f[13] + f[14])); done; echo "$s"; }
    c0=$(cpu)
    read -r rc _ _ < <(WRK_TOKENS=$RUN/tokens/tokens.txt wrk_run jwt get "$DURATION")
    c1=$(cpu)
    echo
    awk -v r="$rc" -v d="$DURATION" -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { s = c / hz; printf "# jwt, every GET a verification (RS256, 2048 bits): %.0f req/s; %.0f such requests a second of worker CPU (%.1f us each, all included)\n", r, r * d / s, s / (r * d) * 1e6 }'

    stop jwt
fi

# --- fleet: the Redis backend against the zone, and the Node.js peer ------

if [[ $FLEET == 1 ]] && ! command -v redis-server >/dev/null; then
    echo "# fleet: redis-server is not installed (apt-get install redis-server): left out"
    FLEET=0
fi

if [[ $FLEET == 1 ]]; then
    for v in lua state sync life jwt; do stop "$v" 2>/dev/null || true; done
    # a Redis for each mode, as a fleet has one: the copies' tracking
    # (cache=on) costs Redis CPU on every write, which cache=off would pay
    # for too if they shared one
    declare -A RPID RPORT
    for c in on off; do
        mkdir -p "$RUN/redis-$c"
        RPORT[$c]=$(free_port)
        redis-server --port "${RPORT[$c]}" --bind 127.0.0.1 --save '' \
            --appendonly no --dir "$RUN/redis-$c" --daemonize yes \
            --pidfile "$RUN/redis-$c/redis.pid" --logfile "$RUN/redis-$c/redis.log"
        for i in $(seq 100); do
            [[ $(redis-cli -p "${RPORT[$c]}" ping 2>/dev/null) == PONG ]] && break
            sleep 0.05
        done
        RPID[$c]=$(cat "$RUN/redis-$c/redis.pid")
        HTTP_PARAM="remote_help_redis fleet server=127.0.0.1:${RPORT[$c]} cache=$c;" \
        STATE_PARAM="backend=fleet" WORKERS=$FLEET_WORKERS \
            render "$ROOT/bench/module.conf.tmpl" "fleet-$c" 256m
        start "fleet-$c"
        load "fleet-$c" "$KEYS"
    done
    FT=(module fleet-on fleet-off)
    if [[ -x $PEERS/node/serve.sh ]] && command -v node >/dev/null; then
        mkdir -p "$RUN/peers"
        PORT[node]=$(free_port)
        if RUNDIR=$RUN/peers "$PEERS/node/serve.sh" start node "${PORT[node]}" \
               "$WORKERS" > "$RUN/peers/node.pid" 2>"$RUN/peers/node.err"; then
            load node "$KEYS"
            FT+=(node)
        else
            echo "# the Node.js peer did not start: left out ($(tail -1 "$RUN/peers/node.err"))"
        fi
    fi
    # empty_store TARGET: the module restarted with an empty zone; a
    # Redis (the fleet's, the peer's) flushed, its gateway's copies with
    # it (tracking tells the listener to drop them all)
    empty_store() {
        case $1 in
            module) stop module; rm -f "$RUN/module/data/"*; start module;;
            fleet-*) redis-cli -p "${RPORT[${1#fleet-}]}" flushall >/dev/null;;
            node) redis-cli -p "$(cat "$RUN/peers/node/redis.port")" \
                      flushall >/dev/null;;
        esac
    }
    pidof_target() {
        case $1 in
            node) cat "$RUN/peers/node/node.pid";;
            *) cat "$RUN/$1/nginx.pid";;
        esac
    }
    echo
    echo "# fleet: the module with backend= (a redis-server for each, the same 2 cores; the gateways with worker_processes $FLEET_WORKERS, the others $WORKERS),"\
         "cache=on and cache=off, against the module without it$([[ " ${FT[*]} " == *" node "* ]] && echo " and the Node.js + Redis peer")"
    printf '\n| workload | target | median req/s | its CPU us/req | Redis CPU us/req | non-2xx |\n|---|---|---|---|---|---|\n'
    FSUM=""
    HZ=$(getconf CLK_TCK)
    for wl in ${FLEET_WORKLOADS:-get post patch mixed}; do
        unset FR FC FRC FB FU
        declare -A FR=() FC=() FRC=() FB=() FU=()
        for t in "${FT[@]}"; do wrk_run "$t" "$wl" 1 >/dev/null; done  # warm-up
        for t in "${FT[@]}"; do FR[$t]=""; FC[$t]=""; FRC[$t]=""; FB[$t]=0; done
        for ((r = 1; r <= ROUNDS; r++)); do
            for t in "${FT[@]}"; do
                tp=$(pidof_target "$t")
                case $t in
                    fleet-*) rp=${RPID[${t#fleet-}]};;
                    node) rp=$(cat "$RUN/peers/node/redis.pid");;
                    *) rp="";;
                esac
                if [[ $wl == post ]]; then
                    # every target's store is emptied for each POST run,
                    # then warmed for a second: each run starts from the
                    # same objects (the module's zone is its store, which
                    # five rounds fill; a Redis that kept every round's
                    # objects would hold more for the faster target)
                    empty_store "$t"
                    wrk_run "$t" post 1 >/dev/null
                    tp=$(pidof_target "$t")
                fi
                c0=$(cpu_ticks "$tp"); q0=$(cpu_ticks $rp)
                read -r rps non2xx _ < <(wrk_run "$t" "$wl" "$DURATION")
                c1=$(cpu_ticks "$tp"); q1=$(cpu_ticks $rp)
                FR[$t]+=" $rps"
                FR[$t,$r]=$rps
                FC[$t]+=" $(awk -v c=$((c1 - c0)) -v r="$rps" -v d="$DURATION" -v hz="$HZ" 'BEGIN { printf "%.1f", c / hz / (r * d) * 1e6 }')"
                FRC[$t]+=" $(awk -v c=$((q1 - q0)) -v r="$rps" -v d="$DURATION" -v hz="$HZ" 'BEGIN { printf "%.1f", c / hz / (r * d) * 1e6 }')"
                FB[$t]=$(( ${FB[$t]:-0} + non2xx ))
                # CPU us per request, the target's and its Redis's
                FU[$t,$r]=$(awk -v c=$((c1 - c0 + q1 - q0)) -v r="$rps" -v d="$DURATION" -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz / (r * d) * 1e6 }')
            done
        done
        if [[ $wl == post ]]; then
            # the keys the other workloads read, in the emptied stores
            for t in "${FT[@]}"; do empty_store "$t"; load "$t" "$KEYS"; done
        fi
        for t in "${FT[@]}"; do
            redis_us=$(median <<<"${FRC[$t]}")
            [[ $t == module ]] && redis_us="-"
            printf '| %s | %s | %.0f | %s | %s | %s |\n' "$wl" "$t" \
                "$(median <<<"${FR[$t]}")" "$(median <<<"${FC[$t]}")" \
                "$redis_us" "${FB[$t]}"
        done
        for pair in "fleet-on module" "fleet-off module" "fleet-on node" "fleet-off node"; do
            read -r x y <<<"$pair"
            [[ " ${FT[*]} " == *" $y "* ]] || continue
            rs=""; ws=""
            for ((r = 1; r <= ROUNDS; r++)); do
                rs+=" $(ratio "${FR[$x,$r]}" "${FR[$y,$r]}")"
                # requests per CPU second, x's over y's
                ws+=" $(ratio "${FU[$y,$r]}" "${FU[$x,$r]}")"
            done
            FSUM+="| $wl | $x/$y | $(median <<<"$rs") |$rs | $(median <<<"$ws") |"$'\n'
        done
    done
    echo
    printf '| workload | ratio | median of rounds | each round | by CPU per request, with Redis (median of rounds) |\n|---|---|---|---|---|\n%s' "$FSUM"
    used=$(redis-cli -p "${RPORT[on]}" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' | tr -d '\r')
    objs=$(redis-cli -p "${RPORT[on]}" eval "return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])" 3 '{rh:bench}:l:0' '{rh:bench}:l:1' '{rh:bench}:l:2')
    echo
    echo "# fleet: Redis holds $objs objects in $used bytes of used_memory"
    [[ " ${FT[*]} " == *" node "* ]] && RUNDIR=$RUN/peers "$PEERS/node/serve.sh" stop node >/dev/null 2>&1
    stop fleet-on
    stop fleet-off
    kill "${RPID[on]}" "${RPID[off]}" 2>/dev/null || true
    rm -f "$RUN"/redis-*/redis.pid
fi

# --- scale: N objects against 1,000 --------------------------------------

if [[ $SCALE -gt 0 ]]; then
    stop lua 2>/dev/null || true
    for v in state sync life; do stop "$v" 2>/dev/null || true; done
    stop module
    # bytes per object of this build, the tree's depth and the headers
    big=$(( SCALE / 1000 + SCALE / 10000 + 64 ))m
    render "$ROOT/bench/module.conf.tmpl" small 64m
    render "$ROOT/bench/module.conf.tmpl" big "$big"
    start small
    start big
    load small 1000
    echo
    echo "# loading $SCALE objects into a $big zone..."
    t0=$(date +%s)
    load big "$SCALE"
    echo "# loaded in $(( $(date +%s) - t0 )) s"
    echo
    # requests built as they are sent, for 1,000 keys as for N: the same
    # work for wrk in every run (and no long init(), see the wrk script)
    export WRK_LAZY=1
    printf '| workload | 1,000 objects req/s | %s objects req/s | ceiling req/s | %s / 1,000 | each round | 1,000 / ceiling | %s / ceiling | non-2xx |\n|---|---|---|---|---|---|---|---|---|\n' "$SCALE" "$SCALE" "$SCALE"
    for wl in get patch; do
        s="" b="" c="" rs="" sc="" bc="" bad=0
        wrk_run small "$wl" 1 1000 >/dev/null
        wrk_run big "$wl" 1 "$SCALE" >/dev/null
        for ((r = 1; r <= ROUNDS; r++)); do
            read -r r1 n1 _ < <(wrk_run small "$wl" "$DURATION" 1000)
            read -r r2 n2 _ < <(wrk_run big "$wl" "$DURATION" "$SCALE")
            read -r r3 _ _ < <(wrk_run ceiling "$wl" "$DURATION" "$SCALE")
            s+=" $r1" b+=" $r2" c+=" $r3" rs+=" $(ratio "$r2" "$r1")"
            sc+=" $(ratio "$r1" "$r3")" bc+=" $(ratio "$r2" "$r3")"
            bad=$((bad + n1 + n2))
        done
        printf '| %s | %.0f | %.0f | %.0f | %s |%s | %s | %s | %s |\n' "$wl" \
            "$(median <<<"$s")" "$(median <<<"$b")" "$(median <<<"$c")" \
            "$(median <<<"$rs")" "$rs" "$(median <<<"$sc")" \
            "$(median <<<"$bc")" "$bad"
    done
    unset WRK_LAZY
    read -r _ used < <(zone_figures big)
    echo
    echo "# $SCALE objects use $used zone bytes: $(( used / SCALE )) per object"
    stop big
    stop small
fi

# --- sweep: N objects expiring in the same second --------------------------

if [[ $SWEEP -gt 0 ]]; then
    for v in module ceiling lua state sync life; do stop "$v" 2>/dev/null || true; done
    big=$(( SWEEP / 1000 + SWEEP / 2000 + 64 ))m
    STATE_PARAM="expire=on" render "$ROOT/bench/module.conf.tmpl" sweep "$big"
    start sweep
    # the moment: after the load, whose wrk runs N / 15,000 + 3 s
    at=$(( $(date +%s) + SWEEP / 15000 + 15 ))
    echo
    echo "# sweep: loading $SWEEP objects that expire at $(date -u -d @$at +%T)..."
    t0=$(date +%s)
    WRK_EXPIRES=$(date -u -d @$at +%Y-%m-%dT%H:%M:%S.0000000+00:00) \
        load sweep "$SWEEP"
    echo "# loaded in $(( $(date +%s) - t0 )) s"
    [[ $(date +%s) -lt $((at - 2)) ]] || die "sweep: the load took too long"
    # bench-k1 again, without a moment: it stays, for the probe
    curl -s -o /dev/null -H "$H" -X DELETE \
        "$(url sweep)/beta/RemoteHelpSessionRetrieveResponse/bench-k1"
    curl -s -o /dev/null -H "$H" -H 'Content-Type: application/json' \
        -d '{"sessionKey":"bench-k1"}' \
        "$(url sweep)/beta/RemoteHelpSessionRetrieveResponse"
    # the probe: GETs of it from before the moment until after the
    # sweep; its longest answer is the longest pause
    wait_s=$(( at - $(date +%s) - 1 ))
    probe_out=$RUN/sweep/probe.txt
    wrk -t1 -c4 -d$(( wait_s + 12 ))s -s "$WRK_SCRIPT" \
        "$(url sweep)" -- get 1 x /beta/ > "$probe_out" 2>&1 &
    probe=$!
    while [[ $(date +%s) -lt $at ]]; do sleep 0.05; done
    start_ns=$(date +%s%N)
    for i in $(seq 600); do
        read -r n _ < <(zone_figures sweep)
        [[ $n -le 2 ]] && break
        sleep 0.05
    done
    took=$(( ($(date +%s%N) - start_ns) / 1000000 ))
    wait "$probe" || true
    line=$(grep '^RESULT ' "$probe_out") || { cat "$probe_out" >&2; die "sweep: no probe"; }
    maxus=$(sed -E 's/.*maxus=([0-9]+).*/\1/' <<<"$line")
    p99us=$(sed -E 's/.*p99us=([0-9]+).*/\1/' <<<"$line")
    expired=$(curl -s "$(url sweep)/status" | perl -MJSON::PP -e '
        local $/; print decode_json(<STDIN>)->{expired}')
    echo "# sweep: $expired of $SWEEP objects expired at one moment, swept in $took ms"\
         "(from the moment to an empty zone, as the status sees it);"\
         "the probe's GETs meanwhile: p99 $(awk -v u="$p99us" 'BEGIN{print u/1000}') ms,"\
         "longest $(awk -v u="$maxus" 'BEGIN{print u/1000}') ms"
    stop sweep
fi

# --- fill: zone bytes per object -------------------------------------------

if [[ $FILL == 1 ]]; then
    render "$ROOT/bench/module.conf.tmpl" fill 16m
    start fill
    # POSTs of 50,000 keys into 16m: 201 until full, then 507
    wrk_run fill load 8 50000 16 >/dev/null
    # the zone's own count of objects and of used bytes
    read -r n used < <(zone_figures fill)
    [[ $n -gt 0 ]] || die "fill: no object stored"
    echo
    echo "# fill: $n retrieve objects of ${#OBJECT} JSON bytes fit a 16m zone:"\
         "$(( 16 * 1024 * 1024 / n )) zone bytes per object,"\
         "$(( used / n )) used bytes per object"\
         "(target: 1.3 x JSON + 64 = $(( ${#OBJECT} * 13 / 10 + 64 )))"
    stop fill
fi
