#!/usr/bin/env bash
# Ascend environment for the training scripts. Sourced by test/launcher.sh on
# every machine; without an Ascend toolkit it changes nothing but ulimit.

cann_set_env=""
cann_info=${ASCEND_CANN_INSTALL_INFO:-/etc/Ascend/ascend_cann_install.info}  # overridable for tests
if [ -f "$cann_info" ]; then
    # The installer records where CANN went: the parent folder (Install_Path=/usr/local/Ascend,
    # holding ascend-toolkit/ or, for the runtime-only package, nnae/) or the toolkit itself.
    cann_path=$(sed -n 's/^Install_Path=//p' "$cann_info" | head -n 1)
    for candidate in "${cann_path}/ascend-toolkit/set_env.sh" "${cann_path}/nnae/set_env.sh" \
                     "${cann_path}/latest/set_env.sh" "${cann_path}/set_env.sh"; do
        [ -f "$candidate" ] && cann_set_env=$candidate && break
    done
fi
if [ -z "$cann_set_env" ] && [ -f /usr/local/Ascend/ascend-toolkit/set_env.sh ]; then
    cann_set_env=/usr/local/Ascend/ascend-toolkit/set_env.sh
fi
if [ -z "$cann_set_env" ] && [ -n "${cann_path:-}" ]; then
    echo "warning: no set_env.sh under ${cann_path} (from ${cann_info}):" \
         "the Ascend environment is not set" >&2
fi

if [ -n "$cann_set_env" ]; then
    # shellcheck disable=SC1090
    source "$cann_set_env"
    export TASK_QUEUE_ENABLE=1             # asynchronous operator dispatch
    export HCCL_WHITELIST_DISABLE=1        # allow any peer address for HCCL
    export HCCL_CONNECT_TIMEOUT=1800       # slow multi-node start-ups
    export ASCEND_SLOG_PRINT_TO_STDOUT=0   # keep device logs out of the training log
    export ASCEND_GLOBAL_LOG_LEVEL=3       # errors only
    export ASCEND_GLOBAL_EVENT_ENABLE=0
    export COMBINED_ENABLE=1               # fuse non-contiguous copies
fi

# Many loader workers x many ranks open many files.
ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
