-- One accepted report's totals for one modality (validate._totals: counts exact, as text). Grain: report ×
-- modality; what the history checks and the month's bound read instead of the report's rows.
insert into core.submission_totals by name
select
    $submission_id as submission_id,
    $modality as modality,
    $rows as row_count,
    $total_tokens::hugeint as total_tokens,
    $settlement_amount::decimal(38, 4) as settlement_amount,
    $input_tokens::hugeint as input_tokens,
    $cached_input_tokens::hugeint as cached_input_tokens,
    $output_tokens::hugeint as output_tokens,
    $requests::hugeint as requests
