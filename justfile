# Latchkey's everyday commands. `just --list` shows them. (`cargo install just` if you don't have it.)

pg_url := env_var_or_default("LATCHKEY_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

# Everything CI checks, in the order CI runs it.
check: fmt-check lint test deps-check

# Format the workspace.
fmt:
    cargo fmt --all

fmt-check:
    cargo fmt --all -- --check

# Clippy with warnings as errors.
lint:
    cargo clippy --workspace --all-targets -- -D warnings

# The README's test command: SQLite only, no services needed.
test:
    cargo test --workspace

# Store and server tests again on PostgreSQL (each run creates and drops its own databases).
test-pg:
    LATCHKEY_TEST_DATABASE_URL={{pg_url}} cargo test -p latchkey-store -p latchkey-server

# The layering rules of docs/ARCHITECTURE.md (domain pure, APIs independent of the store …).
deps-check:
    cargo test -p latchkey-domain --test dependency_rules

# Logto's own Management API client (@logto/api) against the real binary.
e2e-node:
    bash scripts/node-e2e.sh tests/node-logto-api

# The /account page in headless Chromium (apt-get install chromium); screenshots in tests/account-page/screenshots.
e2e-browser:
    LATCHKEY_E2E_HOST=localhost bash scripts/node-e2e.sh tests/account-page

# Start the server on the embedded SQLite database in ./data.
run *ARGS:
    cargo run --release -p latchkey-server -- {{ARGS}}

# Run migrations and exit.
migrate:
    cargo run --release -p latchkey-server -- migrate

# Criterion benchmarks (figures go to docs/benchmarks.md).
bench:
    cargo bench --workspace

# The HTTP load run of issue 7: every API row, the sign-in flood, RSS (figures go to docs/benchmarks.md).
bench-http:
    bash scripts/bench-http.sh

# Where the machine's time goes during the password sign-in row (perf, every CPU; Linux, root).
profile-sign-in:
    bash scripts/profile-sign-in.sh

# Every cargo-fuzz target for SECONDS each (`scripts/fuzz.sh long` runs 10,000,000 executions per target).
fuzz SECONDS="15":
    bash scripts/fuzz.sh short {{SECONDS}}

# The embedding example: domain + store without the server.
example:
    cargo run -p latchkey-example-embedded

# Scaffold a new migration file in migrations/src.
migrate-new NAME:
    cargo run -p latchkey-migrations -- generate {{NAME}}
