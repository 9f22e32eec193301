#!/usr/bin/env bash
# The launcher behind every model's test/train_*.sh (sourced, not run).
#
# The model script sets, then sources this file:
#   NETWORK     name in the summary (GOTURN, GloRe)
#   MODULE      python module to run (goturn.train)
#   RANK_SIZE   processes per node the script is meant for (1 or 8)
#   MODE        acc (full training) or perf (throughput run)
#   BATCH_SIZE  examples per device per step (for the case name)
#   TRAIN_ARGS  array of train.py arguments for real data
#   DEMO_ARGS   array appended when no --data_path is given (demo data)
#
# Users pass --key=value: --data_path=DIR, --nproc=N (processes on this node),
# --nnodes=N --node_rank=R --master_addr=A --master_port=P (multi-node), and any
# train.py flag (--epochs=3, --device=cpu, ...), which overrides the script's.
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL_DIR=$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)
PACKAGE=$(basename "$MODEL_DIR")
# The interpreter: $PYTHON when set, else the repository's .venv (what `make demo` and `make test`
# install into), else python3 from PATH.
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    [ -x "$REPO_ROOT/.venv/bin/python" ] && PYTHON="$REPO_ROOT/.venv/bin/python"
fi
# The launcher changes folder before running; a relative interpreter path must survive that.
[[ $PYTHON == */* && $PYTHON != /* ]] && PYTHON="$(pwd)/$PYTHON"
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"
# What this script starts dies with it (common/orphans.py): a launcher killed with SIGKILL must
# not leave torchrun or its ranks training on, beside the job a user restarts in the same folder.
export ZOO_DIE_WITH_PARENT=1

fail() { echo "error: $*" >&2; exit 2; }

# One line instead of a ModuleNotFoundError traceback when the interpreter lacks the packages
# (found without importing them: this takes a few milliseconds).
command -v "$PYTHON" >/dev/null 2>&1 || fail "no Python interpreter '$PYTHON': set PYTHON=/path/to/python"
MISSING=$("$PYTHON" -c 'import importlib.util as u
print(" ".join(m for m in ("torch", "numpy", "cv2", "av", "loguru") if u.find_spec(m) is None))' 2>&1) \
    || fail "cannot run $PYTHON: $MISSING"
[ -z "$MISSING" ] || fail "$PYTHON lacks $MISSING: run 'make setup' in $REPO_ROOT (it makes .venv, \
which the scripts use), activate the environment that has requirements.txt, or set PYTHON=/path/to/python"

DATA_PATH="" NPROC=$RANK_SIZE NNODES=1 NODE_RANK=0 MASTER_ADDR_ARG="" MASTER_PORT_ARG=29500
OUTPUT_DIR="" OVERRIDES=()
for arg in "$@"; do
    case "$arg" in
        --data_path=*) DATA_PATH=${arg#*=} ;;
        --nproc=*|--nproc_per_node=*) NPROC=${arg#*=} ;;
        --nnodes=*) NNODES=${arg#*=} ;;
        --node_rank=*) NODE_RANK=${arg#*=} ;;
        --master_addr=*) MASTER_ADDR_ARG=${arg#*=} ;;
        --master_port=*) MASTER_PORT_ARG=${arg#*=} ;;
        --output_dir=*) OUTPUT_DIR=${arg#*=} ;;
        --resume=*|--pretrained=*|--pretrained_model=*|--alov_path=*|--imagenet_path=*)
            # Files named from where the user stands: the run starts in the model folder.
            value=${arg#*=}
            [[ $value != /* && -e $value ]] && value="$(pwd)/$value"
            OVERRIDES+=("${arg%%=*}" "$value") ;;
        --*=*) key=${arg%%=*}; OVERRIDES+=("$key" "${arg#*=}") ;;
        --*) OVERRIDES+=("$arg") ;;
        *) fail "unexpected argument '$arg': options are --key=value (e.g. --data_path=/data/$PACKAGE)" ;;
    esac
done
for number in NPROC NNODES NODE_RANK; do
    [[ ${!number} =~ ^[0-9]+$ ]] || fail "--${number,,}=${!number} is not a whole number"
done
for number in NPROC NNODES; do
    [ "${!number}" -ge 1 ] || fail "--${number,,}=${!number}: expected a whole number >= 1"
done
[ "$NODE_RANK" -lt "$NNODES" ] || fail "--node_rank=$NODE_RANK: expected below --nnodes=$NNODES"
# shellcheck source=env_npu.sh
source "$REPO_ROOT/test/env_npu.sh"
# OpenMP threads that sleep instead of spinning while they wait. On a CPU shared with loader
# workers or other jobs, spinning threads burn the time the others need and stall every small
# op. Measured on the 2-core development machine: GloRe demo with two busy processes beside it
# 62 clips/s instead of under 8; GOTURN demo beside one busy process 60 instead of 47
# examples/s; no difference on an idle machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
export RANK_SIZE=$((NPROC * NNODES))
ARGS=("${TRAIN_ARGS[@]}")
DEMO=0

if [ -z "$DATA_PATH" ]; then
    DATA_PATH="$REPO_ROOT/dataset/${PACKAGE}_demo"
    if [ ! -d "$DATA_PATH" ]; then
        echo "no --data_path given: generating the $NETWORK demo data set in $DATA_PATH"
        rm -rf "$DATA_PATH.tmp"
        "$PYTHON" -m "$PACKAGE.data.demo" --out "$DATA_PATH.tmp" && mv "$DATA_PATH.tmp" "$DATA_PATH" \
            || fail "could not generate the demo data in $DATA_PATH"
    elif [ -f "$DATA_PATH/.complete" ]; then
        # A versioned demo set (GOTURN's marks its format version): the generator keeps a
        # current one and rewrites one an older release wrote, so the demo trains on the data
        # its README figures come from.
        "$PYTHON" -m "$PACKAGE.data.demo" --out "$DATA_PATH" || fail "could not regenerate the demo data in $DATA_PATH"
    fi
    ARGS+=("${DEMO_ARGS[@]}")
    DEMO=1
fi
ARGS+=("${OVERRIDES[@]}")
# The batch size train.py will see is the last one given (script, demo or user).
for ((i = 0; i < ${#ARGS[@]} - 1; i++)); do
    case "${ARGS[i]}" in --batch_size|--batch-size) BATCH_SIZE=${ARGS[i + 1]} ;; esac
done
[[ $BATCH_SIZE =~ ^[0-9]+$ ]] || fail "--batch_size=$BATCH_SIZE is not a whole number"
CASE_NAME="${NETWORK}_bs$((BATCH_SIZE * RANK_SIZE))_${RANK_SIZE}p_${MODE}"
[ "$DEMO" = 1 ] && CASE_NAME="${CASE_NAME}_demo"
[ -d "$DATA_PATH" ] || fail "--data_path=$DATA_PATH is not a directory"
DATA_PATH=$(cd "$DATA_PATH" && pwd)

RUN_DIR=${OUTPUT_DIR:-"$MODEL_DIR/runs/$CASE_NAME"}
# The run happens in the model folder: a relative --output_dir means the one seen from here.
[[ $RUN_DIR != /* ]] && RUN_DIR="$(pwd)/$RUN_DIR"
CASE_DIR="$MODEL_DIR/test/output/$ASCEND_DEVICE_ID"
LOG="$CASE_DIR/train_${ASCEND_DEVICE_ID}.log"

ARGS=(--data_path "$DATA_PATH" --output_dir "$RUN_DIR" "${ARGS[@]}")
if [ "$RANK_SIZE" -gt 1 ]; then
    if [ "$NNODES" -gt 1 ]; then
        [ -n "$MASTER_ADDR_ARG" ] || fail "--nnodes=$NNODES needs --master_addr=<address of node 0>"
        RENDEZVOUS=(--nnodes "$NNODES" --node_rank "$NODE_RANK"
                    --master_addr "$MASTER_ADDR_ARG" --master_port "$MASTER_PORT_ARG")
    else
        RENDEZVOUS=(--standalone --nnodes 1)  # a free port is picked for us
    fi
    # torchrun is started through common.die_with_parent: SIGTERM for it when this script dies;
    # the ranks ask for it themselves when torchrun dies (common.runtime).
    COMMAND=("$PYTHON" -m common.die_with_parent torch.distributed.run "${RENDEZVOUS[@]}" --nproc_per_node "$NPROC"
             -m "$MODULE" "${ARGS[@]}")
else
    COMMAND=("$PYTHON" -m "$MODULE" "${ARGS[@]}")
fi

cd "$MODEL_DIR" || fail "cannot enter $MODEL_DIR"
# The flags and the run folder are checked (one error line, exit 2) before anything of the
# previous run is cleared: a mistyped flag must not cost the last good summary. Only node 0
# writes the run folder, so the other nodes check the flags alone.
ZOO_NODE_RANK=$NODE_RANK "$PYTHON" -m "$MODULE" "${ARGS[@]}" --check_args || exit $?
rm -rf "$CASE_DIR" && mkdir -p "$CASE_DIR" "$RUN_DIR"
{
    echo "case $CASE_NAME | $RANK_SIZE process(es) | data $DATA_PATH | run dir $RUN_DIR"
    echo "command: ${COMMAND[*]}"
} | tee "$LOG"
START=$(date +%s)
"${COMMAND[@]}" 2>&1 | tee -a "$LOG"
STATUS=${PIPESTATUS[0]}
E2E=$(( $(date +%s) - START ))

if [ "$STATUS" -ne 0 ]; then
    echo "training failed with exit status $STATUS; see $LOG" | tee -a "$LOG"
    exit "$STATUS"
fi
if [ "$NODE_RANK" -ne 0 ]; then
    # Rank 0, on node 0, writes the results; this node's share of the job ended well.
    echo "node $NODE_RANK done; the summary is written on node 0" | tee -a "$LOG"
    exit 0
fi
"$PYTHON" -m common.summarize --run_dir "$RUN_DIR" --case_dir "$CASE_DIR" \
    --case_name "$CASE_NAME" --e2e_seconds "$E2E" 2>&1 | tee -a "$LOG"
exit "${PIPESTATUS[0]}"
