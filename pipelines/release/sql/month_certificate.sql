-- The disclosure audit's certificate of a month's cells as last protected. Grain: one row per month.
select certificate::varchar from mart.certificates where reference_period = $period
