# Sourced by the CI scripts, each of which installs what it runs: CI is a fresh Debian machine
# with rustup and cargo and nothing else. Every function here does nothing (and prints nothing)
# when what it installs is already there, says what it installs otherwise, and shows the
# installer's output only when it fails. `bash .ci/tools` checks that no script forgets one.

if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi

# quietly COMMAND...: runs it; its output is shown only if it fails.
quietly() {
  local out
  out=$("$@" 2>&1) || {
    local status=$?
    printf '%s\n' "$out" >&2
    return "$status"
  }
}

# need_apt COMMAND PACKAGE...: the Debian packages, unless COMMAND is on the PATH (or, when it
# is a path, unless that file exists). The package lists are fetched only if the install fails
# without them (a fresh machine has none).
need_apt() {
  local have=$1
  shift
  case $have in
    */*) [ -e "$have" ] && return 0 ;;
    *) command -v "$have" >/dev/null && return 0 ;;
  esac
  echo "installing $* (apt-get)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 ||
    { quietly $sudo apt-get update && quietly $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; }
}

# need_component COMPONENT...: rustup components of the toolchain in use (llvm-tools, clippy…).
need_component() { quietly rustup component add "$@"; }

# need_target [--toolchain NAME] TRIPLE...: the standard library for these targets.
need_target() { quietly rustup target add "$@"; }

# need_nightly [COMPONENT...]: the nightly toolchain (minimal profile) with these components.
# A nightly that is already installed is used as it is, not updated.
need_nightly() {
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain${1:+ with $*}"
    if [ $# = 0 ]; then
      quietly rustup toolchain install nightly --profile minimal
    else
      quietly rustup toolchain install nightly --profile minimal --component "$(IFS=,; echo "$*")"
    fi
  fi
  [ $# = 0 ] || quietly rustup component add --toolchain nightly "$@"
}

# need_toolchain VERSION: a pinned stable toolchain (minimal profile), e.g. the MSRV.
need_toolchain() {
  rustup run "$1" rustc --version >/dev/null 2>&1 && return 0
  echo "installing the $1 toolchain"
  quietly rustup toolchain install "$1" --profile minimal
}

# need_cargo COMMAND CRATE [ARG...]: `cargo install --locked CRATE ARG...`, unless COMMAND is on
# the PATH.
need_cargo() {
  local have=$1 crate=$2
  shift 2
  command -v "$have" >/dev/null && return 0
  echo "installing $crate (cargo install: a few minutes)"
  quietly cargo install --locked "$crate" "$@"
}
