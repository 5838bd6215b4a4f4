-- Keep the disclosure audit's certificate of a month until its release's manifest takes it. Grain: one row per month.
insert or replace into mart.certificates values ($period, $certificate)
