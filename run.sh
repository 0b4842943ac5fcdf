#!/usr/bin/env bash
# The project's entry point. `./run.sh main` runs the main job, `./run.sh test` runs every check.
# Both set the machine up first (virtual environment, Python and npm dependencies), so each works on a
# fresh clone with nothing but Python 3.11+ and npm installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

venv=.venv
stamp="$venv/.installed"

setup() {
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    # The tested versions (constraints.txt) within the ranges pyproject.toml allows.
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[dev]"
        touch "$stamp"
    fi
    if [ ! -x node_modules/.bin/cdk ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    fi
    export PATH="$PWD/$venv/bin:$PWD/node_modules/.bin:$PATH"
    # jsii needs a supported Node.js: use the one pinned in package.json, not the machine's.
    export JSII_NODE="$PWD/node_modules/.bin/node"
    export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
}

run_main() {
    # The real CDK CLI synthesizes the example app; the local cloud starts with the app's source snapshot
    # seeded; the CLI runs `cdk bootstrap`, `cdk deploy --all` and `cdk destroy --all` against the cloud's
    # one endpoint; the copy's ARN as the consumer stack sees it, and the endpoint of the cluster restored
    # from the copy, are printed last. Any step failing ends the job with the CLI's error and exit 1.
    # Arguments go to the local cloud, e.g. `./run.sh main --keep-running`.
    cdk synth --quiet --no-notices
    python -m copied_snapshot_local_cloud demo cdk.out --cli --seed-sources --show SnapshotConsumerStack.RestoreSnapshotArn \
        --show SnapshotConsumerStack.StagingClusterEndpoint "$@"
}

run_tests() {
    ruff check .
    ruff format --check .
    mypy
    pytest "$@"
}

command="${1:-}"
shift || true
case "$command" in
    main) setup; run_main "$@" ;;
    test) setup; run_tests "$@" ;;
    *) echo "usage: ./run.sh main|test [args...]" >&2; exit 2 ;;
esac
