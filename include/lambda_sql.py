"""The SQL task classes of the batch DAGs: common-sql's operators, with the bind parameters the
SQL files use (%(name)s, bound by the driver) made readable to OpenLineage."""

from __future__ import annotations

import re

from airflow.providers.common.sql.operators.sql import SQLCheckOperator, SQLExecuteQueryOperator

_BIND_PARAMETER = re.compile(r"%\(\w+\)s")


class _LineageOfBoundSql:
    """OpenLineage's SQL parser stops at the driver's %(name)s placeholders (`Expected: an
    expression, found: %`), so a task's events named no table. It parses the SQL with NULL in
    their place (which tables a statement reads and writes never depends on them); the job's
    `sql` facet keeps the text that ran."""

    def get_openlineage_facets_on_start(self):
        sql = self.sql
        if isinstance(sql, str):
            self.sql = _BIND_PARAMETER.sub("NULL", sql)
        try:
            lineage = super().get_openlineage_facets_on_start()
        finally:
            self.sql = sql
        if lineage is not None and "sql" in lineage.job_facets:
            from attrs import evolve

            lineage.job_facets["sql"] = evolve(lineage.job_facets["sql"], query=sql)
        return lineage


class IntervalSqlOperator(_LineageOfBoundSql, SQLExecuteQueryOperator):
    """A sql/ file run with its data interval's bind parameters."""


class IntervalCheckOperator(_LineageOfBoundSql, SQLCheckOperator):
    """SQLCheckOperator whose bind parameters are templated too (the provider renders only the
    SQL), so the interval is bound by the driver, never pasted into the SQL text."""

    template_fields = (*SQLCheckOperator.template_fields, "parameters")
