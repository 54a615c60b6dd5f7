#!/usr/bin/env bash
# The GPU run, one prepared script (issue 11): U-Net inference per precision, eager and under
# torch.compile, on a trained model (results/speed_cuda.md), then the paper preset's training
# steps per variant (results/speed_training_cuda_paper.md). Each script saves after every case,
# so a run cut short keeps what it measured.
#
#   bash benchmarks/gpu.sh MODEL DATA_DIR     # DATA_DIR holds sidd_samples/
set -u
model=${1:?usage: gpu.sh MODEL DATA_DIR}
data=${2:?usage: gpu.sh MODEL DATA_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONUNBUFFERED=1 PYTHONPATH="$here/src:$here${PYTHONPATH:+:$PYTHONPATH}"
cd "$here" || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
python3 -m pytest -q -p no:cacheprovider tests/backends/test_backends.py -k "fp16" 2>&1 | tail -2
timeout "${SPEED_TIMEOUT:-330}" python3 benchmarks/speed.py --device cuda --model "$model" \
    --data "$data" --deadline "${SPEED_DEADLINE:-240}"
timeout "${TRAINING_TIMEOUT:-170}" python3 benchmarks/training_speed.py --device cuda \
    --preset paper --compile --steps 10
