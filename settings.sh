#!/usr/bin/env bash
# `source settings.sh` puts this package on PYTHONPATH, so `python -m goturn.train`
# and `python -m glore.train` work from any folder.
_zoo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case ":${PYTHONPATH:-}:" in
    *":${_zoo_root}:"*) ;;
    *) export PYTHONPATH="${_zoo_root}${PYTHONPATH:+:${PYTHONPATH}}" ;;
esac
unset _zoo_root
