# Teman Jiwa: one image for Telegram and WhatsApp. Secrets come from the environment.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TEMANJIWA_CONTENT=/app/content/id \
    TEMANJIWA_DB=/data/temanjiwa.db
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
COPY storage ./storage
COPY content ./content
RUN pip install . && useradd --system --home /data temanjiwa && mkdir -p /data \
    && chown temanjiwa /data
USER temanjiwa
VOLUME ["/data"]
EXPOSE 8080
CMD ["temanjiwa", "run"]
