# grok-explorer as a container for any host: CPU-only torch, non-root user, health check.
FROM python:3.11-slim

# MALLOC_ARENA_MAX=2: glibc gives each thread (Streamlit runs every script run in one) a heap of its own, up to 8
# per core, and memory freed in one stays mapped there; two heaps kept the 8-visitor load test's server RSS ~90 MB
# lower (595 MB peak against 659-713; README, "Load"). It must be set before the process starts, so here.
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MALLOC_ARENA_MAX=2 \
    GROK_DEMO=1 \
    GROK_RUNS_DIR=/tmp/grok-runs

WORKDIR /app
COPY requirements.txt .
# The CPU wheel of torch first (PyPI's Linux wheel is the multi-GB CUDA build), then the rest.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install -r requirements.txt

# Code and shipped runs belong to root and are read-only for the app user.
COPY . .
RUN useradd --create-home --uid 10001 grok && chmod -R a-w /app/pretrained
USER grok

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
