# syntax=docker/dockerfile:1
# Three images from one file (docker build --target <name> .):
#   server-gpu  gunicorn on $PORT on an NVIDIA GPU
#   server      the same on the CPU, for Cloud Run or any container host
#   lambda      the AWS Lambda container image. It is the last stage, so the default target:
#               serverless.yml's image build (Serverless v3 cannot pass --target) makes it.
#
# Why the Lambda image is not FROM public.ecr.aws/lambda/python:3.11: that image is Amazon
# Linux 2 (glibc 2.26), and the torch wheels pinned in requirements.txt are manylinux_2_28,
# which pip refuses to install there. python:3.11-slim (Debian, glibc 2.36) plus AWS's runtime
# interface client (awslambdaric) is AWS's documented way to bring another base image.

# ---- CPU dependencies, shared by `lambda` and `server` ---------------------------------------
FROM python:3.11-slim AS cpu-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
COPY requirements.txt /tmp/requirements.txt
# 1. The CPU-only torch/torchvision pair, at requirements.txt's versions, first: from PyPI,
#    ultralytics would pull the CUDA builds (~5 GB of libraries no Lambda can use). Both come
#    from the same index: a CPU torch does not load PyPI's torchvision ops.
# 2. The rest of requirements.txt, with torch held at what is installed.
# 3. ultralytics drags in opencv-python beside opencv-python-headless; the former needs libGL,
#    absent here, and both share the cv2 package: drop it and reinstall the headless one intact.
RUN grep -E '^(torch|torchvision)==' /tmp/requirements.txt > /tmp/torch.txt \
 && pip install --index-url https://download.pytorch.org/whl/cpu -r /tmp/torch.txt \
 && grep -v -E '^(torch|torchvision)==' /tmp/requirements.txt > /tmp/rest.txt \
 && pip install -r /tmp/rest.txt -c /tmp/torch.txt \
 && pip uninstall -y opencv-python \
 && pip install --force-reinstall --no-deps $(grep -E '^opencv-python-headless==' /tmp/requirements.txt) \
 && python -c "import cv2, onnxruntime, torch, torchvision, ultralytics; assert not torch.cuda.is_available()"

# ---- server-gpu ------------------------------------------------------------------------------
# The CUDA base sets up the NVIDIA container runtime hooks; the CUDA libraries themselves come
# with PyPI's torch wheels (nvidia-* packages), so the small `base` flavour is enough. The host
# driver must support the CUDA version of those wheels.
FROM nvidia/cuda:12.8.1-base-ubuntu22.04 AS server-gpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    DEBIAN_FRONTEND=noninteractive PATH=/opt/venv/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3.11 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# PyPI's torch is the CUDA build. opencv-python goes for the reason given above.
RUN pip install -r /tmp/requirements.txt \
 && pip uninstall -y opencv-python \
 && pip install --force-reinstall --no-deps $(grep -E '^opencv-python-headless==' /tmp/requirements.txt)
ENV PORT=8080 YOLO_CONFIG_DIR=/tmp/Ultralytics YOLO_OFFLINE=true ALPR_DEVICE=auto
WORKDIR /app
COPY alpr/ alpr/
COPY weights/ weights/
RUN python -m compileall -q /app && useradd --system --no-create-home alpr
USER alpr
EXPOSE 8080
CMD exec gunicorn --bind ":$PORT" --workers 1 --threads 8 --timeout 0 'alpr.api:create_app()'

# ---- server (Cloud Run) ----------------------------------------------------------------------
FROM cpu-deps AS server
# ALPR_ONNX_SPIN=0: this server takes several requests at once (Cloud Run's concurrency),
# and threads spinning for one request take the cores from the others (README, Settings).
ENV PORT=8080 YOLO_CONFIG_DIR=/tmp/Ultralytics YOLO_OFFLINE=true ALPR_ONNX_SPIN=0
WORKDIR /app
COPY alpr/ alpr/
COPY weights/ weights/
RUN python -m compileall -q /app && useradd --system --no-create-home alpr
USER alpr
EXPOSE 8080
# One process holds the models once; threads serve requests while ONNX Runtime (or torch)
# works outside the GIL. Eight threads, though model work runs for one photo at a time
# (alpr.models): bad input is answered at once, not behind photos (python -m alpr soak).
# --timeout 0: Cloud Run enforces its own request timeout.
CMD exec gunicorn --bind ":$PORT" --workers 1 --threads 8 --timeout 0 'alpr.api:create_app()'

# ---- lambda ----------------------------------------------------------------------------------
FROM cpu-deps AS lambda
RUN pip install awslambdaric==4.2.2
# Only /tmp is writable on Lambda; Ultralytics must neither write settings nor go online.
ENV LAMBDA_TASK_ROOT=/var/task YOLO_CONFIG_DIR=/tmp/Ultralytics YOLO_OFFLINE=true ALPR_DEVICE=cpu
WORKDIR /var/task
COPY handler.py ./
COPY alpr/ alpr/
# The shipped weights are part of the image: no download on a cold start.
COPY weights/ weights/
# /var/task is read-only at run time: compile the bytecode now, or every cold start does it.
RUN python -m compileall -q /var/task
ENTRYPOINT ["python", "-m", "awslambdaric"]
CMD ["handler.handler"]
