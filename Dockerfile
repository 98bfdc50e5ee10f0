# kcheck on a GPU: the checker with the pinned toolchain, run as a non-root user.
#
#   docker build -t kcheck .
#   docker run --rm --gpus all -v "$PWD/out:/opt/kcheck/reports" kcheck run --device cuda
#
# Everything is installed by ci/install.sh, the script .ci/run also runs (on CPU), from the one
# constraints.txt; the build args below only override its pins. No secrets are used or kept: the
# image needs none (posting comments happens outside it, see ci/README.md).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
FROM ${CUDA_IMAGE}

# Empty: the pins of constraints.txt. TORCH_VERSION must be a CUDA build to run natively (the
# PyPI wheel for Linux is one); TORCH_INDEX_URL picks another index for torch alone, e.g.
# https://download.pytorch.org/whl/cu128.
ARG TORCH_VERSION=
ARG TORCH_INDEX_URL=
ARG TRITON_VERSION=
ARG HELION_VERSION=

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/kcheck/.venv/bin:${PATH}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Ubuntu's own python3 (3.12 on 24.04); gcc because Triton builds its launcher stubs at run time.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc \
    && rm -rf /var/lib/apt/lists/*

# ubuntu:24.04 already has uid 1000 (user "ubuntu"); a distinct uid avoids clashing with it.
RUN groupadd --gid 10001 kcheck \
    && useradd --no-log-init --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin kcheck

WORKDIR /opt/kcheck

# The toolchain layer: only what decides the pinned packages, so a code change reuses it.
COPY constraints.txt ./
COPY ci/install.sh ci/install.sh
RUN TORCH_VERSION="${TORCH_VERSION}" TORCH_INDEX_URL="${TORCH_INDEX_URL}" \
    TRITON_VERSION="${TRITON_VERSION}" HELION_VERSION="${HELION_VERSION}" \
    bash ci/install.sh --deps-only --runtime-only /opt/kcheck/.venv

# The checker itself. Installed and owned by root, so the code cannot be changed at run time;
# only reports/ is the runtime user's (a golden update mounts a checkout's golden/ instead).
COPY . .
RUN TORCH_VERSION="${TORCH_VERSION}" TORCH_INDEX_URL="${TORCH_INDEX_URL}" \
    TRITON_VERSION="${TRITON_VERSION}" HELION_VERSION="${HELION_VERSION}" \
    bash ci/install.sh --runtime-only /opt/kcheck/.venv \
    && install -d -o 10001 -g 10001 /opt/kcheck/reports

USER 10001:10001
ENV HOME=/home/kcheck
ENTRYPOINT ["kcheck"]
CMD ["run"]
