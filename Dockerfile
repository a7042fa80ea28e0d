# gwdoctor's container image, the one deploy/argocd-postsync-job.yaml and deploy/cronjob-prometheus.yaml run.
# Build it from a checkout you trust, push it to your registry, and put the pushed DIGEST into those two files:
#   docker buildx build --push --metadata-file build.json -t registry.home.lan/gwdoctor:0.1.0 .
#   echo "registry.home.lan/gwdoctor@$(jq -r '."containerimage.digest"' build.json)"
# (The digest, not the tag: a tag can be moved; the digest is the image you built.)
# test/e2e/deploy.test.ts replays this file's COPY and RUN steps and runs the result as the Jobs do.

# Build: dependencies exactly as package-lock.json pins them (npm ci checks each one's integrity hash), then the
# same build as everywhere else. --ignore-scripts: the `prepare` script would build before the sources are copied.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY checks ./checks
RUN npm run build && chmod 0755 dist/bundle/cli.js

# Run: only the bundle (esbuild inlines every dependency: no node_modules, no npm, nothing fetched at run time) and
# the package.json it reads its version from. An unprivileged numeric UID, so that runAsNonRoot can verify it.
# Writes nothing but the output files you name, the discovery cache under $HOME and V8's compile cache under /tmp
# (node-compile-cache; NODE_DISABLE_COMPILE_CACHE=1 turns it off): the Jobs set
# readOnlyRootFilesystem and mount an emptyDir on /tmp.
FROM node:24-slim
ENV NODE_ENV=production HOME=/tmp
WORKDIR /opt/gwdoctor
COPY --from=build /src/package.json ./
COPY --from=build /src/dist/bundle ./dist/bundle
RUN ln -s /opt/gwdoctor/dist/bundle/cli.js /usr/local/bin/gwdoctor
USER 65534:65534
ENTRYPOINT ["gwdoctor"]
