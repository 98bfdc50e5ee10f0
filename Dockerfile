# kcheck container (first version; the CI workflows of a later issue build on it).
# Installs through ci/install.sh, the same script the README and .ci/run use, from the one
# pinned constraints.txt. TORCH_VERSION picks the torch build (the PyPI wheel carries CUDA).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
FROM ${CUDA_IMAGE}

ARG TORCH_VERSION=2.13.0
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TORCH_VERSION=${TORCH_VERSION} \
    PATH=/opt/kcheck/.venv/bin:${PATH}

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc git \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 kcheck
WORKDIR /opt/kcheck
COPY --chown=kcheck:kcheck . /opt/kcheck
RUN chown kcheck:kcheck /opt/kcheck
USER kcheck
RUN bash ci/install.sh /opt/kcheck/.venv

ENTRYPOINT ["kcheck"]
CMD ["run"]
