# Shared by the scripts: Python tool virtualenvs, created on demand and reused.
#
# They live outside the repository (about 1 GB with zig), under
# $NUTRIPRO_TOOLS_HOME or ~/.cache/nutripro, one per requirements file, and are
# rebuilt whenever that file changes.

TOOLS_HOME="${NUTRIPRO_TOOLS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/nutripro}"

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"
}

# ensure_venv NAME REQUIREMENTS_FILE -> prints the virtualenv's directory
# (built with $TOOLS_PYTHON when set, else python3)
ensure_venv() {
  local name=$1 requirements=$2 dir want
  dir="$TOOLS_HOME/$name"
  want=$(sha256sum "$requirements" | cut -c1-16)
  if [[ -x "$dir/bin/python" && "$(cat "$dir/.requirements" 2>/dev/null)" == "$want" ]]; then
    printf '%s\n' "$dir"
    return
  fi
  local python=${TOOLS_PYTHON:-python3}
  require_command "$python" "Python 3.11+ with venv and pip"
  printf 'installing %s tools into %s (once)\n' "$name" "$dir" >&2
  rm -rf "$dir"
  mkdir -p "$TOOLS_HOME"
  "$python" -m venv "$dir" >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2 \
    || die "pip could not install $requirements"
  printf '%s\n' "$want" >"$dir/.requirements"
  printf '%s\n' "$dir"
}

# Offline, telemetry-free AWS tooling with dummy credentials: nothing here talks to AWS.
offline_aws_env() {
  export SAM_CLI_TELEMETRY=0
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
  export AWS_EC2_METADATA_DISABLED=true
  export CKV_SKIP_PACKAGE_UPDATE_CHECK=true
}

free_loopback_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT SECONDS: returns once something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local port=$1 deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ensure_chromium -> prints the path of Debian's chromium, installing it (apt, as root)
# when it is missing. Fails loudly when it cannot: the browser tests are never skipped.
ensure_chromium() {
  local browser="${CHROMIUM:-/usr/bin/chromium}"
  if [[ ! -x "$browser" ]]; then
    [[ "$(id -u)" == 0 ]] || die "$browser is missing; install Debian's chromium (apt-get install chromium) or set CHROMIUM"
    printf 'installing Debian chromium with apt (once)\n' >&2
    { apt-get install -y --no-install-recommends chromium >&2 \
      || { apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2; }; } \
      || die "apt-get could not install chromium"
  fi
  [[ -x "$browser" ]] || die "no chromium at $browser after installing it"
  printf '%s\n' "$browser"
}

# ensure_node_modules DIR: npm ci from DIR's lockfile, skipped when it already matches.
ensure_node_modules() {
  local dir=$1 want
  require_command node "Node.js 20+"
  require_command npm "npm"
  want=$(sha256sum "$dir/package-lock.json" | cut -c1-16)
  if [[ "$(cat "$dir/node_modules/.lock-hash" 2>/dev/null)" == "$want" ]]; then
    return
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $dir"
  printf '%s\n' "$want" >"$dir/node_modules/.lock-hash"
}

# find_python312 -> prints a Python 3.12+ interpreter: python3.13/3.12 on PATH, else
# pyenv's. Fails loudly: the conformance run is never skipped.
find_python312() {
  local candidate
  for candidate in python3.12 python3.13 "$HOME"/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate" 2>/dev/null || printf '%s\n' "$candidate"
      return
    fi
  done
  die "Python 3.12+ is required for schemathesis (install it, e.g. with pyenv)"
}
