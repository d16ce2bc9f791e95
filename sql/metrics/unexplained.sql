-- Per type: bytes the reconciliation could not attribute to a cause (|unexplained|, summed).
SELECT type, sum(abs(unexplained)) AS unexplained_bytes
FROM reconciliation
GROUP BY type
