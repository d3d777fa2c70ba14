# Shared by scripts/run, scripts/test and scripts/bench: make sure .venv
# exists and holds the package (with the extras named in $1, if any), at the
# exact versions of scripts/constraints.txt (what the suite last passed with).
# With the test extra, the Python client (clients/python) too, editable: its
# tests run in the suite. Re-installs only when setup.cfg, pyproject.toml,
# the client's pyproject.toml, the compiled module's source (setup.py builds
# service/_speedups.c in place) or the constraints changed since the last install.
# shellcheck shell=bash
ensure_venv() {
  local extras="${1:-}"
  local root venv stamp want
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    python3 -m venv "$venv"
  fi
  stamp="$venv/.installed${extras:+-$extras}"
  want="$(cd "$root" && cat setup.cfg setup.py pyproject.toml service/_speedups.c \
    clients/python/pyproject.toml scripts/constraints.txt | sha256sum | cut -d' ' -f1)"
  # An install with extras holds the plain one too: `scripts/run` after
  # `scripts/test` (or the README's tour in the suite) installs nothing.
  if [ -z "$extras" ]; then
    for other in "$venv"/.installed-*; do
      if [ -f "$other" ] && [ "$(cat "$other")" = "$want" ]; then stamp="$other"; fi
    done
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing roleready-cache${extras:+[$extras]} into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$root/scripts/constraints.txt" -e "$root${extras:+[$extras]}" >&2
    if [ "$extras" = "test" ]; then
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$root/scripts/constraints.txt" -e "$root/clients/python" >&2
    fi
    echo "$want" > "$stamp"
  fi
  VENV_PYTHON="$venv/bin/python"
  export VENV_PYTHON
}
