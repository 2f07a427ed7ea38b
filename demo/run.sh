#!/usr/bin/env bash
# pg_durable quick-start demo.
#
#   demo/run.sh             install what is missing, build, start a throwaway PostgreSQL 15
#                           cluster and a worker, run a sample workflow, leave both running
#   demo/run.sh --stop      stop the demo's worker and cluster and delete their files
#   demo/run.sh --port N    use TCP port N on 127.0.0.1 (default 54329)
#
# Running it again first stops the previous demo, then starts from scratch. On failure it
# stops whatever it started, deletes the demo's files and exits non-zero.
#
# The cluster listens on 127.0.0.1 only, with trust authentication (the worker logs in as the
# role that submitted a workflow, without a password). It is a throwaway: do not keep data in it.
set -Eeuo pipefail

script=$0
cd "$(dirname "$0")/.."

bindir=/usr/lib/postgresql/15/bin
jar=target/pg-durable.jar
db=demo
app_role=demo
admin_role=postgres
host=127.0.0.1
port=${PG_DURABLE_DEMO_PORT:-54329}
demo_dir=${PG_DURABLE_DEMO_DIR:-/tmp/pg-durable-demo-$(id -u)}
data_dir=$demo_dir/data
marker=$demo_dir/.pg-durable-demo
worker_pid_file=$demo_dir/worker.pid
worker_log=$demo_dir/worker.log
server_log=$data_dir/server.log

usage() {
    cat <<EOF
Usage: $script [--port N]     start the demo (stopping a previous one first)
       $script --stop         stop the demo's worker and cluster and delete its files
       $script --help

Starts a throwaway PostgreSQL 15 cluster on $host (port ${PG_DURABLE_DEMO_PORT:-54329} unless
--port says otherwise) with its files in $demo_dir, installs the pg_durable schema, starts a
worker and runs a sample workflow. Installs the Debian packages it needs if any is missing
(postgresql-15, and a JDK and Maven when javac or mvn is not on the PATH).
Environment: PG_DURABLE_DEMO_PORT, PG_DURABLE_DEMO_DIR override the port and the directory.
EOF
}

say() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
    printf 'demo: error: %s\n' "$*" >&2
    exit 1
}

action=start
while [ $# -gt 0 ]; do
    case $1 in
        --stop | stop) action=stop ;;
        --port)
            [ $# -ge 2 ] || die "--port needs a value"
            port=$2
            shift
            ;;
        --port=*) port=${1#--port=} ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
    shift
done
if ! [[ $demo_dir =~ ^/[A-Za-z0-9._/-]+$ ]]; then
    die "PG_DURABLE_DEMO_DIR must be an absolute path of letters, digits and . _ - /, got '$demo_dir'"
fi
if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1024 ] || [ "$port" -gt 65535 ]; then
    die "the port must be a number from 1024 to 65535, got '$port'"
fi

is_root() { [ "$(id -u)" -eq 0 ]; }

# PostgreSQL refuses to run as root: as root, run the server programs as the OS user postgres,
# from a directory it can enter (the checkout may be in /root).
as_server_user() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# psql against the demo cluster: psql_as <role> <database> [psql args...]
psql_as() {
    local role=$1 database=$2
    shift 2
    "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$role" -d "$database" "$@"
}

# One value from a query run as the application role.
query_app() { psql_as "$app_role" "$db" -At -c "$1"; }

jdbc_url() { printf 'jdbc:postgresql://%s:%s/%s?user=%s' "$host" "$port" "$db" "$admin_role"; }

# ---------------------------------------------------------------------------------------------
# Packages (same check as .ci/run: dpkg-query, apt-get update only when something is missing)
# ---------------------------------------------------------------------------------------------

install_missing_packages() {
    local packages=(postgresql-15)
    # Debian 12's default JDK is 17; the build targets Java 17, so a newer default JDK works too.
    command -v javac >/dev/null || packages+=(default-jdk-headless)
    command -v mvn >/dev/null || packages+=(maven)
    local missing=() package status
    for package in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
        if [ "$status" != "install ok installed" ]; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    say "Installing ${missing[*]}"
    command -v apt-get >/dev/null || die "${missing[*]} missing and apt-get not found: install them by hand"
    local sudo=()
    if ! is_root; then
        command -v sudo >/dev/null || die "${missing[*]} missing; run this script as root or install sudo"
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update || die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
        die "installing ${missing[*]} failed (postgresql-15 is in Debian 12; on other releases add the apt.postgresql.org repository)"
}

check_tools() {
    [ -x "$bindir/initdb" ] || die "PostgreSQL 15 server programs not found in $bindir (Debian package postgresql-15)"
    command -v java >/dev/null || die "java not found on the PATH; install a JDK 17 or later"
    local java_version
    java_version=$(java -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
    if [ -z "$java_version" ] || [ "$java_version" -lt 17 ]; then
        die "Java 17 or later is needed, but 'java' is version ${java_version:-unknown}"
    fi
    if is_root && ! id postgres >/dev/null 2>&1; then
        die "running as root, the cluster runs as OS user postgres, which does not exist (Debian package postgresql-15 creates it)"
    fi
}

# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------

build_if_needed() {
    local reason=
    if [ ! -f "$jar" ]; then
        reason="$jar does not exist"
    elif [ -n "$(find pom.xml src/main sql -newer "$jar" -type f -print -quit)" ]; then
        reason="sources are newer than $jar"
    fi
    if [ -z "$reason" ]; then
        say "Build: $jar is up to date"
        return
    fi
    command -v mvn >/dev/null || die "$reason and Maven (mvn) is not on the PATH"
    say "Building ($reason): mvn -B -q package -DskipTests"
    info "(the first build downloads the dependencies; this can take a few minutes)"
    # With -q Maven prints only errors (and colour resets): keep them for a failure.
    local build_log=target/demo-build.log
    mkdir -p target
    if ! mvn -B -q package -DskipTests >"$build_log" 2>&1; then
        sed 's/\x1b\[[0-9;]*m//g' "$build_log" | grep -v '^[[:space:]]*$' | tail -n 40 >&2 || true
        die "the build failed: mvn -B -q package -DskipTests (its last lines are above, all of it in $build_log)"
    fi
    rm -f -- "$build_log"
    [ -f "$jar" ] || die "the build did not produce $jar"
}

# ---------------------------------------------------------------------------------------------
# Stop
# ---------------------------------------------------------------------------------------------

# The pid in worker.pid, if that process is still a pg-durable worker.
running_worker_pid() {
    local pid
    [ -f "$worker_pid_file" ] || return 1
    pid=$(cat "$worker_pid_file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'pg-durable.jar worker' || return 1
    echo "$pid"
}

stop_worker() {
    local pid _
    pid=$(running_worker_pid) || return 0
    info "Stopping the worker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || return 0
    # The worker's shutdown grace is 10 s by default.
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    info "The worker did not stop within 15 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

stop_cluster() {
    [ -f "$data_dir/postmaster.pid" ] || return 0
    info "Stopping the PostgreSQL cluster in $data_dir"
    as_server_user "$bindir/pg_ctl" stop -D "$data_dir" -m fast -w -t 60 -s ||
        as_server_user "$bindir/pg_ctl" stop -D "$data_dir" -m immediate -w -t 60 -s ||
        printf 'demo: warning: could not stop the cluster in %s\n' "$data_dir" >&2
}

# Stops the demo's worker and cluster and deletes its directory. Returns 1 if there was none.
stop_demo() {
    if [ -L "$demo_dir" ]; then
        die "$demo_dir is a symbolic link; remove it or set PG_DURABLE_DEMO_DIR"
    fi
    [ -d "$demo_dir" ] || return 1
    [ -f "$marker" ] || die "$demo_dir exists but was not made by this demo; remove it or set PG_DURABLE_DEMO_DIR"
    stop_worker
    stop_cluster
    rm -rf -- "$demo_dir"
    info "Deleted $demo_dir"
}

# ---------------------------------------------------------------------------------------------
# Start
# ---------------------------------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

check_port_free() {
    if port_in_use; then
        die "port $port on $host is already in use; choose another with --port N (or PG_DURABLE_DEMO_PORT)"
    fi
}

start_cluster() {
    say "Starting a throwaway PostgreSQL 15 cluster on $host:$port (files in $demo_dir)"
    mkdir -m 755 -- "$demo_dir" || die "cannot create $demo_dir"
    touch "$marker"
    echo "$port" >"$demo_dir/port"
    mkdir -m 700 -- "$data_dir"
    if is_root; then
        chown postgres:postgres "$data_dir"
    fi
    as_server_user "$bindir/initdb" -D "$data_dir" -U "$admin_role" -A trust -E UTF8 --locale=C \
        --no-instructions >"$demo_dir/initdb.log" 2>&1 ||
        { cat "$demo_dir/initdb.log" >&2; die "initdb failed"; }
    as_server_user tee -a "$data_dir/postgresql.conf" >/dev/null <<EOF

# pg_durable demo: reachable only from this host.
listen_addresses = '$host'
port = $port
unix_socket_directories = '$data_dir'
EOF
    if ! as_server_user "$bindir/pg_ctl" start -D "$data_dir" -l "$server_log" -w -t 60 -s; then
        tail -n 20 "$server_log" >&2 || true
        die "the PostgreSQL cluster did not start (server log above)"
    fi
    info "Cluster running; trust authentication for connections from $host"
}

install_schema() {
    say "Creating role '$app_role' and database '$db'; installing the schema"
    psql_as "$admin_role" postgres -c "CREATE ROLE $app_role LOGIN" -c "CREATE DATABASE $db OWNER $app_role"
    info "\$ java -jar $jar install --url '$(jdbc_url)'"
    if ! java -jar "$jar" install --url "$(jdbc_url)" 2>"$demo_dir/install.log" | sed 's/^/    /'; then
        cat "$demo_dir/install.log" >&2
        die "installing the schema failed (output above)"
    fi
    PGOPTIONS='-c client_min_messages=warning' \
        psql_as "$admin_role" "$db" -At -c "SELECT df.grant_usage('$app_role')" >/dev/null
    info "Granted df usage to '$app_role'"
}

start_worker() {
    say "Starting a worker in the background (log: $worker_log)"
    info "\$ java -jar $jar worker --url '$(jdbc_url)'"
    nohup java -jar "$jar" worker --url "$(jdbc_url)" </dev/null >"$worker_log" 2>&1 &
    local pid=$!
    echo "$pid" >"$worker_pid_file"
    local _
    for _ in $(seq 1 120); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$worker_log" >&2 || true
            die "the worker exited at start (log above)"
        fi
        if [ "$(psql_as "$admin_role" "$db" -At -c "SELECT count(*) FROM df_engine.workers WHERE pid = $pid")" != 0 ]; then
            info "Worker running (pid $pid)"
            return
        fi
        sleep 0.25
    done
    tail -n 20 "$worker_log" >&2 || true
    die "the worker did not register its heartbeat within 30 s (log above)"
}

# ---------------------------------------------------------------------------------------------
# The sample workflow
# ---------------------------------------------------------------------------------------------

read -r -d '' workflow <<'SQL' || true
('SELECT 42 AS answer' |=> 'a')
  ~> (('SELECT $a + 1 AS b FROM pg_sleep(1)') & ('SELECT $a * 2 AS c FROM pg_sleep(1)'))
  ~> df.wait_for_signal('approve', 600)
  ~> 'SELECT ''approved'' AS verdict'
SQL

now_ms() { date +%s%3N; }

declare -A seen=()
last_status=
started_ms=0

# Prints what changed since the last poll: the instance status and every node whose status changed.
poll_progress() {
    local id=$1 rows node type status label elapsed
    rows=$(psql_as "$app_role" "$db" -At -F $'\t' \
        -c "SELECT df.status('$id')" \
        -c "SELECT node_id, node_type, inferred_status,
                   CASE node_type
                        WHEN 'SQL' THEN regexp_replace(query, '\s+', ' ', 'g')
                        WHEN 'SIGNAL' THEN 'wait for signal ''' || (query::json ->> 'signal_name') || ''''
                        WHEN 'JOIN' THEN 'join of the two branches'
                        ELSE lower(node_type) END
                   || coalesce(' |=> ' || result_name, '')
              FROM df.instance_nodes('$id') WHERE node_type <> 'THEN'")
    elapsed=$(awk -v ms=$(($(now_ms) - started_ms)) 'BEGIN { printf "%5.1fs", ms / 1000 }')
    {
        read -r status
        if [ "$status" != "$last_status" ]; then
            printf '    %s  instance %s\n' "$elapsed" "$status"
            last_status=$status
        fi
        while IFS=$'\t' read -r node type status label; do
            [ -n "$node" ] || continue
            if [ "${seen[$node]:-}" != "$status" ]; then
                printf '    %s    %-9s %-6s %s\n' "$elapsed" "$status" "$type" "$label"
                seen[$node]=$status
            fi
        done
    } <<<"$rows"
}

# Polls every half second until <condition SQL> (run as the app role) returns true.
watch_until() {
    local id=$1 condition=$2 timeout_s=$3 deadline reached
    deadline=$(($(now_ms) + timeout_s * 1000))
    while :; do
        # Check first, then show: the progress shown includes the state that met the condition.
        reached=$(query_app "SELECT $condition")
        poll_progress "$id"
        [ "$reached" = t ] && return 0
        if [ "$(now_ms)" -gt "$deadline" ]; then
            printf '\n--- last lines of %s ---\n' "$worker_log" >&2
            tail -n 20 "$worker_log" >&2 || true
            die "the workflow did not get there within ${timeout_s} s"
        fi
        sleep 0.5
    done
}

run_workflow() {
    say "The sample workflow (run as role '$app_role')"
    printf '%s\n' "$workflow" | sed 's/^/    /'
    info ""
    info "It runs a step and names its result 'a'; runs two steps in parallel that use \$a"
    info "(each sleeps 1 s); waits durably for the signal 'approve'; then runs a last step."
    info ""
    info "Its graph, as df.explain shows it before it runs:"
    psql_as "$app_role" "$db" -At -c "SELECT df.explain($workflow)" | sed 's/ *$//; s/^/      /'

    say "SELECT df.start(<the workflow>, 'quickstart')"
    local id
    id=$(query_app "SELECT df.start($workflow, 'quickstart')")
    [[ $id =~ ^[0-9a-f]{8}$ ]] || die "df.start returned '$id', not an instance id"
    info "Instance id: $id (df.start returned at once; the worker runs the steps)"
    info ""
    info "Progress (polling df.status and df.instance_nodes every 0.5 s):"
    started_ms=$(now_ms)
    watch_until "$id" "EXISTS (SELECT 1 FROM df.instance_nodes('$id')
                               WHERE node_type = 'SIGNAL' AND inferred_status = 'running')
                       OR df.status('$id') IN ('completed', 'failed', 'cancelled')" 60
    [ "$(query_app "SELECT df.status('$id')")" = running ] ||
        die "instance $id ended before it waited for the signal: $(query_app "SELECT df.result('$id')")"

    say "The instance is waiting for the signal 'approve' (df.explain '$id'):"
    psql_as "$app_role" "$db" -At -c "SELECT df.explain('$id')" | sed 's/ *$//; s/^/      /'
    sleep 1
    info ""
    info "SELECT df.signal('$id', 'approve', '{\"by\": \"demo\"}');"
    query_app "SELECT df.signal('$id', 'approve', '{\"by\": \"demo\"}')" | sed 's/^/      /'
    info ""
    watch_until "$id" "df.status('$id') IN ('completed', 'failed', 'cancelled')" 60
    [ "$(query_app "SELECT df.status('$id')")" = completed ] ||
        die "instance $id did not complete: $(query_app "SELECT df.status('$id') || ': ' || coalesce(df.result('$id'), '')")"

    say "Results"
    info "SELECT df.result('$id');"
    query_app "SELECT df.result('$id')" | sed 's/^/      /'
    info ""
    info "SELECT df.explain('$id');"
    psql_as "$app_role" "$db" -At -c "SELECT df.explain('$id')" | sed 's/ *$//; s/^/      /'
    info ""
    info "SELECT node_type, result_name, status, result FROM df.instance_nodes('$id') WHERE node_type <> 'THEN';"
    psql_as "$app_role" "$db" -P pager=off \
        -c "SELECT node_type, result_name, status, result FROM df.instance_nodes('$id') WHERE node_type <> 'THEN'" |
        sed 's/^/      /'
}

print_next_steps() {
    say "The demo cluster and worker are still running"
    cat <<EOF
    Connect:        psql -h $host -p $port -U $app_role $db
    Try:            SELECT df.start('SELECT now() AS t' ~> df.sleep(2) ~> 'SELECT 1 AS done');
                    SELECT * FROM df.list_instances();
    Administrator:  psql -h $host -p $port -U $admin_role $db
    Worker log:     $worker_log
    Server log:     $server_log
    Stop and clean: $script --stop
EOF
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

if [ "$action" = stop ]; then
    say "Stopping the pg_durable demo"
    if stop_demo; then
        info "Done"
    else
        info "No demo found in $demo_dir; nothing to do"
    fi
    exit 0
fi

succeeded=false
started=false
on_error() { printf 'demo: error: command failed (line %s): %s\n' "$1" "$2" >&2; }
on_exit() {
    local status=$?
    if [ "$succeeded" != true ] && [ "$started" = true ]; then
        printf '\ndemo: failed; stopping what it started\n' >&2
        stop_demo >&2 || true
    fi
    exit "$status"
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_missing_packages
check_tools
if [ -e "$demo_dir" ] || [ -L "$demo_dir" ]; then
    say "Stopping the previous demo"
    stop_demo || true
fi
check_port_free
build_if_needed
started=true
start_cluster
install_schema
start_worker
run_workflow
succeeded=true
print_next_steps
