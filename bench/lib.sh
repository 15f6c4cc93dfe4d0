# Shared helpers of the benchmark scripts; source it, don't run it.

# uncompressed DATA_DIR WORK_DIR NAME: the path of NAME in DATA_DIR, gunzipped into
# WORK_DIR first when only NAME.gz is there (data sets are kept compressed).
uncompressed() {
  local data=$1 work=$2 name=$3
  if [ -f "$data/$name" ]; then
    echo "$data/$name"
  elif [ -f "$data/$name.gz" ]; then
    [ -f "$work/$name" ] || gunzip -c "$data/$name.gz" > "$work/$name"
    echo "$work/$name"
  else
    echo "$(basename "$0"): neither $name nor $name.gz in $data" >&2
    exit 1
  fi
}
