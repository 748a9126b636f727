"""
Difficulty scores and the selected rows
=======================================

ELFS gives every row of the unlabelled pool a difficulty score, from the training dynamics
of a small proxy head trained on pseudo-labels (k-means clusters), drops the hardest
fraction ``beta`` of the pool (where the pseudo-labels are least trustworthy) and fills the
budget from the rest. This example selects 10% of the digits pool and draws both: the
difficulty histogram with the dropped and the selected rows, and the selection in the
pool's first two principal components.
"""

# %%
# Select 10% of the pool, label-free
# ----------------------------------
import matplotlib.pyplot as plt

from skelfs import ELFSSelector
from skelfs.datasets import load_example
from skelfs.plotting import plot_difficulty, plot_selection

X_pool, X_test, y_pool, y_test = load_example()  # the labels are not used below
selector = ELFSSelector(budget=0.1, random_state=0).fit(X_pool)
rows = selector.get_support(indices=True)
print(f"{rows.size} of {len(X_pool)} rows selected")
print(f"pseudo-label clusters: {selector.n_clusters_}; hardest fraction dropped: {selector.beta_}")

# %%
# Difficulty histogram
# --------------------
# ``scores_`` is the area under the margin (AUM) of the proxy head, negated so that higher
# means harder. The hardest ``beta_`` fraction is dropped; the selection spreads over the
# rest (coverage-centric stratified sampling, per pseudo-label cluster).
plot_difficulty(selector)

# %%
# The selection in the pool
# -------------------------
# The first two principal components of the pool: selected rows over the rest of the pool,
# with the dropped hardest rows marked.
plot_selection(X_pool, selector)
plt.show()
