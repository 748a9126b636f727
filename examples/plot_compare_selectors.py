"""
Comparing selectors across budgets
==================================

Every selector in :data:`skelfs.registry.SELECTORS` shares one API:
``make_selector(name, budget=b).fit(X).get_support(indices=True)`` gives the rows to label,
without looking at any label. Here a few of them select 2%, 5% and 10% of the digits pool; the
labels of the selected rows are then revealed, a logistic regression is trained on them
and scored on the held-out test split. :func:`skelfs.plotting.plot_budget_curve` draws the
accuracy against the budget.

This is one small pool and one seed, so differences of a point or two are noise; the
measured comparison on real embeddings, 3 datasets x 7 budgets x 3 seeds, is on the
:doc:`/quality` page.
"""

# %%
# Select, then label and train
# ----------------------------
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.linear_model import LogisticRegression

from skelfs import make_selector
from skelfs.datasets import load_example
from skelfs.plotting import plot_budget_curve

X_pool, X_test, y_pool, y_test = load_example()
budgets = [0.02, 0.05, 0.1]
methods = ["random", "elfs", "facility_location", "typiclust", "kcenter", "probcover"]

results = []
for method in methods:
    for budget in budgets:
        selector = make_selector(method, budget=budget, random_state=0).fit(X_pool)
        rows = selector.get_support(indices=True)  # only now are labels revealed
        clf = LogisticRegression(max_iter=2000).fit(X_pool[rows], y_pool[rows])
        accuracy = clf.score(X_test, y_test)
        row = dict(dataset="digits", method=method, budget=budget, seed=0, accuracy=accuracy)
        results.append(row)
results = pd.DataFrame(results)
print(results.pivot_table(index="budget", columns="method", values="accuracy").round(3))

# %%
# Accuracy against budget
# -----------------------
plot_budget_curve(results)
plt.show()
