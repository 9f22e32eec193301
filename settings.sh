#!/usr/bin/env bash
# `source settings.sh` puts this package on PYTHONPATH, so `python -m goturn.train`
# and `python -m glore.train` work from any folder (bash, zsh; in sh, from this folder).
_zoo_src=""
if [ -n "${BASH_VERSION:-}" ]; then
    eval '_zoo_src=${BASH_SOURCE[0]}'
elif [ -n "${ZSH_VERSION:-}" ]; then
    eval '_zoo_src=${(%):-%x}'
elif [ -f ./settings.sh ] && [ -d ./common ]; then
    _zoo_src=./settings.sh  # sh cannot tell where a sourced file is: only this folder is known
fi
if [ -z "$_zoo_src" ]; then
    echo "error: settings.sh: this shell cannot tell where settings.sh is; source it from bash" \
         "or zsh, or with '. ./settings.sh' in its own folder, or export PYTHONPATH=<that folder>" >&2
    unset _zoo_src
    return 1 2>/dev/null || exit 1
fi
_zoo_root=$(cd "$(dirname "$_zoo_src")" && pwd)
case ":${PYTHONPATH:-}:" in
    *":${_zoo_root}:"*) ;;
    *) export PYTHONPATH="${_zoo_root}${PYTHONPATH:+:${PYTHONPATH}}" ;;
esac
unset _zoo_root _zoo_src
