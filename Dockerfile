# The scoring service (TypeScript, run with tsx). Used by docker-compose.yml's `scoring`.
FROM node:20-bookworm-slim

ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app
RUN chown node:node /app
USER node

# dependencies first, so that a change in src/ does not reinstall them;
# .npmrc skips onnxruntime-node's CUDA download (the CPU binaries ship in the package)
COPY --chown=node:node package.json package-lock.json .npmrc ./
RUN npm ci && npm cache clean --force

COPY --chown=node:node . .

# listen on all interfaces inside the container; compose publishes it on 127.0.0.1 only
ENV KSCORE_HTTP_HOST=0.0.0.0 \
    KSCORE_HTTP_PORT=18080
EXPOSE 18080

CMD ["node", "--import", "tsx", "src/cli/main.ts", "serve"]
