-- Final-use sales per item of the reports in $submissions, which mart.item_sales does not hold yet (schemas/
-- warehouse.sql), each summed once from its rows. A report with no final use adds nothing (and is read again
-- next time: one report's rows).
insert into mart.item_sales
select
    u.submission_id,
    u.report_period,
    u.provider_id,
    u.model_id,
    u.modality,
    sum(u.input_tokens + u.output_tokens)::hugeint as total_tokens,
    sum(u.settlement_amount)::decimal(38, 4) as settlement_amount
from core.usage as u
join ref.customer_types as ct using (customer_type)
where ct.use_type = 'final'
  and list_contains($submissions, u.submission_id)
group by all
