#!/usr/bin/env bash
# Commands behind benchmarks/EXPLORATION.md (run from the repository root, one at a time).
# Each writes benchmarks/results/exploration/<name>.csv/.md/.log. PY defaults to the dev venv's python.
# These runs were made when the pruner split the budget equally across clusters and
# n_clusters=None meant a silhouette estimate; to replay them exactly under today's defaults,
# add "allocation":"equal" to each pruner and pass the old K explicitly (see EXPLORATION.md).
set -euo pipefail
PY=${PY:-python}
Q="$PY benchmarks/quality_core.py"
R=benchmarks/results/exploration
run() { local name=$1; shift; $Q --out-csv $R/$name.csv --out-md $R/$name.md "$@" > /dev/null 2> $R/$name.log; }

# Pruning variants that share one clustering + scoring fit per dataset (skelfs defaults:
# silhouette K, linear proxy, 20 epochs, AUM).
PRUNE=(
  --variant 'ccs_b0={"beta":0.0}'
  --variant 'ccs_b0.1={"beta":0.1}'
  --variant 'ccs_b0.2={"beta":0.2}'
  --variant 'ccs_b0.3={"beta":0.3}'
  --variant 'hard_auto={"sampling":"hard"}'
  --variant 'hard_b0={"sampling":"hard","beta":0.0}'
  --variant 'hard_b0.1={"sampling":"hard","beta":0.1}'
  --variant 'hard_b0.2={"sampling":"hard","beta":0.2}'
  --variant 'hard_b0.3={"sampling":"hard","beta":0.3}'
  --variant 'unbal_ccs_auto={"pruner":{"beta":"auto","sampling":"ccs","allocation":null}}'
  --variant 'unbal_ccs_b0.1={"pruner":{"beta":0.1,"sampling":"ccs","allocation":null}}'
  --variant 'unbal_hard_b0.2={"pruner":{"beta":0.2,"sampling":"hard","allocation":null}}'
  --variant 'kbal_random={"pruner":{"beta":0.0,"n_strata":1}}'
)

# The same pruning variants at an oracle K (the true class count, and twice it).
# add NAME JSON: append a variant to ARGS and its name to NAMES.
ARGS=(); NAMES=(random)
add() { ARGS+=(--variant "$1=$2"); NAMES+=("$1"); }
kvariants() {  # $1: JSON value of n_clusters, $2: name suffix
  local k=$1 s=$2
  add "auto_$s" "{\"n_clusters\":$k}"
  add "ccs_b0.1_$s" "{\"n_clusters\":$k,\"beta\":0.1}"
  add "ccs_b0.2_$s" "{\"n_clusters\":$k,\"beta\":0.2}"
  add "ccs_b0.3_$s" "{\"n_clusters\":$k,\"beta\":0.3}"
  add "hard_b0.2_$s" "{\"n_clusters\":$k,\"sampling\":\"hard\",\"beta\":0.2}"
  add "unbal_ccs_b0.1_$s" "{\"n_clusters\":$k,\"pruner\":{\"beta\":0.1,\"allocation\":null}}"
  add "kbal_random_$s" "{\"n_clusters\":$k,\"pruner\":{\"beta\":0.0,\"n_strata\":1}}"
}

# Scorer variants (default K), each with cluster-balanced CCS at beta 0.1 and 0.2.
svariants() {
  local name spec
  for pair in "forgetting|\"difficulty\":\"forgetting\"" "el2n|\"difficulty\":\"el2n\"" \
              "entropy|\"difficulty\":\"entropy\"" "variability|\"difficulty\":\"variability\"" \
              "mlp256|\"scorer\":{\"hidden_layer_size\":256}" "ep10|\"scorer\":{\"epochs\":10}" \
              "ep50|\"scorer\":{\"epochs\":50}" "noise0.5|\"scorer\":{\"input_noise\":0.5}" \
              "noise1|\"scorer\":{\"input_noise\":1.0}"; do
    name=${pair%%|*}; spec=${pair#*|}
    add "${name}_b0.1" "{$spec,\"beta\":0.1}"
    add "${name}_b0.2" "{$spec,\"beta\":0.2}"
  done
}

case "${1:-all}" in
  default|all) run default_3seeds ;;&
  noreuse|all)  # the same default run refitting every selector from scratch (timing + check)
    run default_3seeds_noreuse --no-reuse ;;&
  s1a|all) run s1a_pruning --seeds 0 "${PRUNE[@]}" ;;&
  s1b|all)
    ARGS=(); NAMES=(random); kvariants '"classes"' K1; kvariants '"classes*2"' K2
    run s1b_nclusters --seeds 0 --methods "${NAMES[@]}" "${ARGS[@]}" ;;&
  s2|all)
    ARGS=(); NAMES=(random); svariants
    run s2_scorer --seeds 0 --methods "${NAMES[@]}" "${ARGS[@]}" ;;&
  confirm|all)  # 3 seeds for the best candidates (combine with default_3seeds for `elfs`)
    run confirm_3seeds --methods random ccs_b0.1 ccs_b0.2 ccs_b0.3 kbal_random ccs_b0.2_K2 \
      "${PRUNE[@]}" --variant 'ccs_b0.2_K2={"n_clusters":"classes*2","beta":0.2}'
    $Q --summarize $R/default_3seeds.csv $R/confirm_3seeds.csv --out-md $R/confirm_3seeds.md > /dev/null ;;&
  smoke_budgetK|all)  # one-seed pointer: K tied to the budget (label-free), 2 rows per cluster
    $Q --datasets ag_news_test7600 banking77 --seeds 0 --budgets 0.01 0.05 --methods random kb_b0.1 \
      --variant 'kb_b0.1={"n_clusters":"budget*0.5","beta":0.1}' --out-csv $R/smoke_budgetK.csv \
      > /dev/null 2> $R/smoke_budgetK.log ;;&
esac
