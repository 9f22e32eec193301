# Two commands: `make demo` and `make test` (both set up .venv on first use).
PYTHON_SYSTEM ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export PYTHON := $(abspath $(PY))
export PYTHONPATH := $(CURDIR)

.PHONY: demo test lint bench setup clean-demo

setup: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# opencv-contrib-python-headless replaces opencv-python-headless (one cv2 package at a time).
	$(PY) -m pip uninstall --quiet -y opencv-python-headless opencv-python
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt
	# The GOT-10k toolkit, only to cross-check our tracking metrics in the tests.
	# --no-deps: its declared opencv-python would clash with opencv-contrib-python-headless.
	$(PY) -m pip install --quiet --no-deps got10k==0.1.3 shapely==2.2.0 six==1.17.0 wget==3.2
	# The VOT toolkit, to run goturn.vot through it in the tests (its other dependencies are in
	# requirements-test.txt; --no-deps for the same opencv-python clash).
	$(PY) -m pip install --quiet --no-deps vot-toolkit==0.9.0
	touch $(STAMP)

GOTURN_RUN := goturn/runs/GOTURN_bs50_1p_acc_demo
GLORE_RUN := glore/runs/GloRe_bs8_1p_acc_demo
GLORE_VIDEO_LIST := dataset/glore_demo/ucf101/ucf101_val_split_1_videos.txt

# --fresh: each `make demo` trains anew; the previous demo run is moved aside to
# <run>.old-<time> (a run folder is never overwritten; `make clean-demo` removes them all).
demo: $(STAMP)
	bash goturn/test/train_full_1p.sh --fresh
	# The trained tracker on the 14 held-out demo videos, beside no motion and OpenCV's CSRT,
	# KCF and MIL: report.json / report.md, success/precision plots and one rendered video.
	$(PY) -m goturn.tracking.evaluate --checkpoint $(GOTURN_RUN)/checkpoint.pth \
	    --data_path dataset/goturn_demo/ALOV --dataset alov \
	    --out $(GOTURN_RUN)/tracking --videos 1 --discard_stale
	bash glore/test/train_full_1p.sh --fresh
	# Clip and video accuracy with a confusion matrix, then one prediction.
	$(PY) -m glore.inference.evaluate --checkpoint $(GLORE_RUN)/checkpoint.pth \
	    --data_path dataset/glore_demo --out $(GLORE_RUN)/evaluation
	set -- $$(sed -n 45p $(GLORE_VIDEO_LIST)); \
	    echo "predicting dataset/glore_demo/ucf101/videos/$$1 (true class: $${1%%/*})"; \
	    $(PY) -m glore.inference.predict --checkpoint $(GLORE_RUN)/checkpoint.pth \
	        dataset/glore_demo/ucf101/videos/$$1 --topk 3

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(STAMP)
	$(PY) -m bench

clean-demo:
	rm -rf dataset/goturn_demo dataset/glore_demo goturn/runs glore/runs
