#!/usr/bin/env bash
# Validates serverless.yml offline: the Serverless Framework v3 packages it into a
# CloudFormation template (dummy credentials, no AWS call, no Docker), then cfn-lint checks
# the template. Every variant the params can produce is packaged once.
# Needs node/npm; npx fetches serverless@3 from the npm registry on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CFN_LINT="$(dirname "$PY")/cfn-lint"
# A digest, not a tag: for a tag, serverless asks ECR for the digest, which needs AWS.
IMAGE_URI=123456789012.dkr.ecr.eu-central-1.amazonaws.com/alpr@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

package() {  # package [--param=name=value]...
  echo "== serverless package $*"
  rm -rf .serverless
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=eu-central-1 SLS_TELEMETRY_DISABLED=1 \
    npx --yes serverless@3 package --stage ci --region eu-central-1 --param="imageUri=$IMAGE_URI" "$@"
  # W3005: serverless writes both a DependsOn and a Ref for its HTTP API routes; harmless.
  "$CFN_LINT" --ignore-checks W3005 -- .serverless/cloudformation-template-update-stack.json
  echo "cfn-lint: no findings"
}

package
package --param="restApi=true"
package --param="apiKeys=true" --param="sqs=true" --param="weightsBucket=alpr-ci-weights" --param="warmup=true" \
  --param="anonymize=blur"
