# LayerLab in a container: `docker compose up -d` (see docker-compose.yml and the README's
# "For teachers"). The CPU build of PyTorch by default; for an NVIDIA GPU build with
#   --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128

# --- builder: a virtual environment with PyTorch and LayerLab -------------------------------
FROM python:3.11-slim-bookworm AS builder

# Where pip finds PyTorch: the CPU wheels (about 200 MB), or a CUDA index (several GB).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_SPEC=torch==2.13.0

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# PyTorch alone from its index, first: its layer is reused while LayerLab's code changes.
RUN python -m venv /opt/layerlab \
    && /opt/layerlab/bin/pip install --index-url "${TORCH_INDEX_URL}" "${TORCH_SPEC}"

# Optional extras, comma-separated: "ray" for the workers on a Ray cluster (compose profile ray).
ARG EXTRAS=""

WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend/ backend/
# Editable: the server finds the page in /app/frontend, beside /app/backend.
RUN /opt/layerlab/bin/pip install --editable ".${EXTRAS:+[${EXTRAS}]}"

# --- the image: the environment and the code, no pip caches, not root ------------------------
FROM python:3.11-slim-bookworm

ENV PATH=/opt/layerlab/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LAYERLAB_HOST=0.0.0.0 \
    LAYERLAB_PORT=8000 \
    LAYERLAB_DATABASE=/data/layerlab.db \
    LAYERLAB_LESSONS_DIR=/app/lessons

RUN groupadd --system --gid 10001 layerlab \
    && useradd --system --create-home --uid 10001 --gid layerlab --shell /usr/sbin/nologin \
        layerlab \
    && mkdir /data \
    && chown layerlab:layerlab /data

COPY --from=builder /opt/layerlab /opt/layerlab
COPY --from=builder /app /app
COPY frontend/ /app/frontend/
# The lessons (lessons/*.yaml), read when the server starts: a file added there is in the next build.
COPY lessons/ /app/lessons/

WORKDIR /app
USER 10001:10001
# The runs and uploads: a new named volume takes this folder's owner, so the server may write.
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]

CMD ["layerlab", "serve"]
