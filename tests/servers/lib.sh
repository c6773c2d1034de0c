# Shared by the start.sh scripts of tests/servers: sourced, not run. The sourcing script
# sets `server` (its name, the prefix of its log lines) and `port_base` (see pick_port).

log() { printf '%s: %s\n' "$server" "$*" >&2; }

# need_tools CMD... : installs Java 17, Maven and the given commands quietly with apt on a
# fresh Debian machine (as root) when one of them is missing.
need_tools() {
  local missing=0 c
  for c in java mvn "$@"; do command -v "$c" >/dev/null || missing=1; done
  [ "$missing" = 1 ] || return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    log "installing Java 17, Maven $* (apt)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends openjdk-17-jre-headless maven "$@" >&2
  else
    log "java, mvn $* are required"; exit 1
  fi
}

# Free loopback ports. Each server picks from its own block of 4,000 ports starting at
# port_base, all below the kernel's ephemeral range (32768 and up): the three scripts run
# at once cannot pick the same port, and no outgoing connection made while a server
# starts can take a picked port before the server binds it.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
taken=" "
# pick_port VAR: sets VAR to a free port not picked before by this script.
pick_port() {
  local -n picked=$1
  local p
  for _ in $(seq 200); do
    p=$((port_base + RANDOM % 4000))
    if port_free "$p" && [[ "$taken" != *" $p "* ]]; then taken="$taken$p "; picked=$p; return 0; fi
  done
  log "no free port in $port_base-$((port_base + 3999))"; exit 1
}

# make_test_certs DIR CA_NAME SAN NAME... : a throwaway CA (DIR/ca.pem, ca.key) and, for
# each NAME, a key (NAME.key) and a certificate (NAME.pem) signed by it for SAN
# (openssl's subjectAltName syntax), valid 30 days.
make_test_certs() {
  local dir=$1 ca_name=$2 san=$3 who
  shift 3
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$ca_name" \
      -keyout ca.key -out ca.pem 2>/dev/null
    for who in "$@"; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$who.key" -out "$who.csr" 2>/dev/null
      printf 'subjectAltName=%s\n' "$san" >"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$who.ext" -out "$who.pem" 2>/dev/null
    done
  )
}
