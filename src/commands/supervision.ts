/**
 * What operators need to keep a build's processes running, written by `igloo build` into
 * `<build>/deploy/`: a systemd template unit (one instance per role: `igloo@ingest`,
 * `igloo@worker`, `igloo@all`) and a container recipe. Both run `igloo start` from the
 * build directory installed at INSTALL_DIR, with the settings of an environment file
 * (the same names as `igloo.config.json`'s, see the README's Configuration), stop with
 * SIGTERM (igloo writes what it acknowledged, then exits 0) within the stop deadline, and
 * restart on failure. Readiness is `GET /ready` for load balancers and orchestrators.
 */

/** Where the recipes expect the build directory. */
export const INSTALL_DIR = "/opt/igloo";
/** `igloo start` stops within 30 s of SIGTERM (STOP_DEADLINE_MS in cli.ts); the supervisor waits a little longer. */
const STOP_TIMEOUT_S = 40;

export function systemdUnit(installDir = INSTALL_DIR): string {
  return `# igloo, one process per instance: systemctl enable --now igloo@ingest igloo@worker
# (or igloo@all for both roles in one process). Settings: /etc/igloo/igloo.env
# (IGLOO_KAFKA_BROKERS, IGLOO_CLICKHOUSE_URL, IGLOO_CLICKHOUSE_QUERY_URL, IGLOO_KEYS, ...).
# The build directory is private to its owner (its config may hold passwords):
#   useradd --system --home-dir ${installDir} igloo && chown -R igloo:igloo ${installDir}
[Unit]
Description=igloo %i (${installDir})
Documentation=https://github.com/igloo
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
WorkingDirectory=${installDir}
EnvironmentFile=/etc/igloo/igloo.env
ExecStart=${installDir}/igloo start --role %i
# igloo writes what it acknowledged on SIGTERM, then exits 0.
KillSignal=SIGTERM
TimeoutStopSec=${STOP_TIMEOUT_S}
Restart=on-failure
RestartSec=2
User=igloo
Group=igloo
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

export function containerfile(installDir = INSTALL_DIR): string {
  return `# docker build -t igloo-app -f deploy/Containerfile .   (run in the build directory)
# docker run --env-file igloo.env -p 4000:4000 igloo-app --role ingest
# Settings come from the environment (IGLOO_KAFKA_BROKERS, IGLOO_CLICKHOUSE_URL, IGLOO_KEYS, ...);
# readiness is GET /ready, liveness GET /health.
FROM debian:bookworm-slim
RUN useradd --system --home-dir ${installDir} igloo
COPY --chown=igloo:igloo . ${installDir}
WORKDIR ${installDir}
USER igloo
ENV IGLOO_HOST=0.0.0.0 IGLOO_PORT=4000
EXPOSE 4000
# igloo writes what it acknowledged on SIGTERM, then exits 0: give it the stop deadline.
STOPSIGNAL SIGTERM
ENTRYPOINT ["${installDir}/igloo", "start"]
CMD ["--role", "all"]
`;
}
