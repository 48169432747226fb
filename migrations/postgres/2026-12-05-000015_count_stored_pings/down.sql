DROP TABLE ping_counts;
