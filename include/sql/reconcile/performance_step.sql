-- One transaction: mart.performance, then the cohort and truth-vs-platform rows it touched.
{% include 'reconcile/performance.sql' %}
{% include 'reconcile/cohort_cac.sql' %}
{% include 'reconcile/truth_vs_platform.sql' %}
